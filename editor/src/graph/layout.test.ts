import { describe, expect, it } from "vitest";
import { edge, node } from "../test/fixtures";
import { layoutGraph } from "./layout";

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
    const [, b, c] = layoutGraph({ nodes, edges });
    expect(Math.abs(b.position.y - c.position.y)).toBeGreaterThanOrEqual(150);
  });
  it("keeps node ids and data", () => {
    const nodes = [node("a", "input:text")];
    expect(layoutGraph({ nodes, edges: [] })[0].data).toBe(nodes[0].data);
  });
});
