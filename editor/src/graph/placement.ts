/** Where nodes go: boxes on the canvas, and the free spot nearest a point. Pure. */
import type { WfNode } from "./types";

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface XY {
  x: number;
  y: number;
}

/** A node not yet measured by React Flow is assumed this big (the width is the CSS width). */
export const DEFAULT_NODE_SIZE = { width: 260, height: 160 };
/** The clear space kept between two nodes. */
export const NODE_GAP = 24;
const STEP = 40;
const MAX_RINGS = 60;

export function sizeOf(n: WfNode): { width: number; height: number } {
  return {
    width: n.measured?.width ?? n.width ?? DEFAULT_NODE_SIZE.width,
    height: n.measured?.height ?? n.height ?? DEFAULT_NODE_SIZE.height,
  };
}

export function rectOf(n: WfNode): Rect {
  return { ...n.position, ...sizeOf(n) };
}

/** Whether two boxes come closer than `gap` to each other. */
export function overlaps(a: Rect, b: Rect, gap = 0): boolean {
  return (
    a.x < b.x + b.width + gap && b.x < a.x + a.width + gap && a.y < b.y + b.height + gap && b.y < a.y + a.height + gap
  );
}

/**
 * The top-left corner for a box of `size` centred as near `centre` as it can be without coming
 * within NODE_GAP of any occupied box: candidates on a grid, ring by ring outwards, nearest first.
 */
export function freeSpot(centre: XY, size: { width: number; height: number }, occupied: readonly Rect[]): XY {
  const origin = { x: Math.round(centre.x - size.width / 2), y: Math.round(centre.y - size.height / 2) };
  const fits = (p: XY) => !occupied.some((r) => overlaps({ ...p, ...size }, r, NODE_GAP));
  for (let ring = 0; ring <= MAX_RINGS; ring += 1) {
    const found = ringOf(origin, ring).find(fits);
    if (found) return found;
  }
  // Everything near is taken: below the lowest box, which is always free.
  const bottom = Math.max(...occupied.map((r) => r.y + r.height));
  return { x: origin.x, y: bottom + NODE_GAP };
}

/** The grid points `ring` steps from `origin` (a square's outline), nearest first. */
function ringOf(origin: XY, ring: number): XY[] {
  if (ring === 0) return [origin];
  const points: XY[] = [];
  for (let i = -ring; i <= ring; i += 1) {
    for (let j = -ring; j <= ring; j += 1) {
      if (Math.max(Math.abs(i), Math.abs(j)) === ring) points.push({ x: origin.x + i * STEP, y: origin.y + j * STEP });
    }
  }
  const distance = (p: XY) => (p.x - origin.x) ** 2 + (p.y - origin.y) ** 2;
  return points.sort((a, b) => distance(a) - distance(b));
}
