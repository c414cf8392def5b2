import { describe, expect, it } from "vitest";
import { DEFAULT_NODE_SIZE, NODE_GAP, freeSpot, overlaps, type Rect } from "./placement";

const size = DEFAULT_NODE_SIZE;

describe("freeSpot", () => {
  it("centres the box on the point when nothing is there", () => {
    expect(freeSpot({ x: 500, y: 300 }, size, [])).toEqual({ x: 370, y: 220 });
  });

  it("never lands on or beside a node, for node after node added at the same point", () => {
    const placed: Rect[] = [];
    for (let i = 0; i < 30; i += 1) {
      const spot = freeSpot({ x: 500, y: 300 }, size, placed);
      const box = { ...spot, ...size };
      expect(
        placed.filter((r) => overlaps(box, r, NODE_GAP - 1)),
        `node ${i}`,
      ).toEqual([]);
      placed.push(box);
    }
  });

  it("stays near the point: the first free spot next to one node is beside it", () => {
    const taken: Rect = { x: 370, y: 220, ...size };
    const spot = freeSpot({ x: 500, y: 300 }, size, [taken]);
    expect(overlaps({ ...spot, ...size }, taken, NODE_GAP - 1)).toBe(false);
    expect(Math.hypot(spot.x - 370, spot.y - 220)).toBeLessThan(size.width + NODE_GAP + 80);
  });

  it("falls back below everything when the whole neighbourhood is full", () => {
    const wall: Rect = { x: -10_000, y: -10_000, width: 20_000, height: 20_000 };
    const spot = freeSpot({ x: 0, y: 0 }, size, [wall]);
    expect(overlaps({ ...spot, ...size }, wall)).toBe(false);
  });
});
