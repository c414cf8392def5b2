import { describe, expect, it } from "vitest";
import { edge, node } from "../test/fixtures";
import { copySelection, parseClipboard, withFreshIds } from "./clipboard";

const a = { ...node("a", "input:text", 10, 20), selected: true };
const b = { ...node("b", "generate:flux_2", 300, 20), selected: true };
const c = node("c", "upscale:crystal_upscaler", 600, 20);
const edges = [edge("e1", "a", "text", "b", "prompt"), edge("e2", "b", "image", "c", "image_url")];

describe("copy and paste", () => {
  it("copies the selected nodes and only the edges between them", () => {
    const copied = copySelection([a, b, c], edges);
    expect(copied?.nodes.map((n) => n.id)).toEqual(["a", "b"]);
    expect(copied?.edges.map((e) => e.id)).toEqual(["e1"]);
  });
  it("copies nothing when nothing is selected", () => {
    expect(copySelection([c], edges)).toBeNull();
  });
  it("pastes with fresh node and edge ids, rewired and offset", () => {
    const copied = copySelection([a, b, c], edges)!;
    const taken = { nodes: new Set(["a", "b", "c"]), edges: new Set(["e1", "e2"]) };
    const pasted = withFreshIds(copied, taken, { x: 40, y: 40 });
    const newIds = pasted.nodes.map((n) => n.id);
    expect(newIds.some((id) => taken.nodes.has(id))).toBe(false);
    expect(new Set(newIds).size).toBe(2);
    expect(pasted.edges[0].id).not.toBe("e1");
    expect(pasted.edges[0].source).toBe(newIds[0]);
    expect(pasted.edges[0].target).toBe(newIds[1]);
    expect(pasted.nodes[0].position).toEqual({ x: 50, y: 60 });
    expect(pasted.nodes[0].data).toEqual(a.data);
  });
  it("round-trips through clipboard text", () => {
    const text = JSON.stringify(copySelection([a, b, c], edges));
    expect(parseClipboard(text)?.nodes.map((n) => n.id)).toEqual(["a", "b"]);
  });
  it("ignores text that is not a graph", () => {
    expect(parseClipboard("hello")).toBeNull();
    expect(parseClipboard('{"nodes": [{"id": 1}], "edges": []}')).toBeNull();
  });
  it("drops edges that point outside the pasted nodes", () => {
    const text = JSON.stringify({ nodes: [a], edges: [edge("x", "a", "text", "zzz", "prompt")] });
    expect(parseClipboard(text)?.edges).toEqual([]);
  });
});
