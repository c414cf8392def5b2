import { describe, expect, it } from "vitest";
import { edge, node } from "../test/fixtures";
import { layoutGraph } from "./layout";
import { overlaps, rectOf } from "./placement";
import type { WfEdge, WfNode } from "./types";

/** A small deterministic generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function randomGraph(seed: number): { nodes: WfNode[]; edges: WfEdge[] } {
  const next = random(seed);
  const count = 1 + Math.floor(next() * 30);
  const nodes = Array.from({ length: count }, (_, i): WfNode => ({
    ...node(`n${i}`, "utility:prompt_concat", Math.floor(next() * 50), Math.floor(next() * 50)),
    measured: { width: 180 + Math.floor(next() * 200), height: 60 + Math.floor(next() * 400) },
  }));
  const edges: WfEdge[] = [];
  const density = next();
  for (let a = 0; a < count; a += 1) {
    for (let b = a + 1; b < count; b += 1) {
      if (next() < density * 0.15) edges.push(edge(`e${a}-${b}`, `n${a}`, "text", `n${b}`, "texts"));
    }
  }
  return { nodes, edges };
}

function overlapping(nodes: WfNode[]): string[] {
  const found: string[] = [];
  nodes.forEach((a, i) =>
    nodes.slice(i + 1).forEach((b) => {
      if (overlaps(rectOf(a), rectOf(b))) found.push(`${a.id}/${b.id}`);
    }),
  );
  return found;
}

describe("layoutGraph", () => {
  it("places a chain left to right in edge order", () => {
    const nodes = [node("c", "upscale:crystal_upscaler"), node("a", "input:text"), node("b", "generate:flux_2")];
    const edges = [edge("e1", "a", "text", "b", "prompt"), edge("e2", "b", "image", "c", "image_url")];
    const placed = new Map(layoutGraph({ nodes, edges }).map((n) => [n.id, n.position]));
    expect(placed.get("a")!.x).toBeLessThan(placed.get("b")!.x);
    expect(placed.get("b")!.x).toBeLessThan(placed.get("c")!.x);
  });

  it("keeps parallel branches from overlapping", () => {
    const nodes = [node("a", "input:text"), node("b", "generate:flux_2"), node("c", "generate:flux_2")];
    const edges = [edge("e1", "a", "text", "b", "prompt"), edge("e2", "a", "text", "c", "prompt")];
    expect(overlapping(layoutGraph({ nodes, edges }))).toEqual([]);
  });

  it("spreads nodes without edges over rows instead of stacking them", () => {
    const nodes = Array.from({ length: 12 }, (_, i) => node(`n${i}`, "generate:flux_2"));
    const placed = layoutGraph({ nodes, edges: [] });
    expect(overlapping(placed)).toEqual([]);
    const columns = new Set(placed.map((n) => n.position.x));
    const rows = new Set(placed.map((n) => n.position.y));
    expect(columns.size).toBeGreaterThan(1);
    expect(rows.size).toBeGreaterThan(1);
  });

  it("never overlaps two nodes, whatever the graph and the node sizes", () => {
    for (let seed = 1; seed <= 60; seed += 1) {
      const graph = randomGraph(seed);
      expect(overlapping(layoutGraph(graph)), `seed ${seed}`).toEqual([]);
    }
  });

  it("keeps node ids and data", () => {
    const nodes = [node("a", "input:text")];
    expect(layoutGraph({ nodes, edges: [] })[0].data).toBe(nodes[0].data);
  });
});
