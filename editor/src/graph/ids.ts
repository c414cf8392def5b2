/** Fresh, collision-free ids for nodes and edges. */

let counter = 0;

function randomPart(): string {
  return Math.random().toString(36).slice(2, 8);
}

export function freshId(prefix: string, taken: ReadonlySet<string>): string {
  for (;;) {
    counter += 1;
    const id = `${prefix}-${randomPart()}${counter.toString(36)}`;
    if (!taken.has(id)) return id;
  }
}
