import { describe, expect, it } from "vitest";
import { readConfig, viewGraph } from "../config";
import { catalogue, edge, node } from "../test/fixtures";
import { createEditorStore } from "./index";

function viewStore() {
  const config = readConfig({
    mode: "view",
    graph: {
      nodes: [node("a", "input:text"), node("b", "generate:flux_2", 300)],
      edges: [edge("e", "a", "text", "b", "prompt")],
    },
  });
  const store = createEditorStore({ readOnly: true });
  store.setState({ catalogue });
  store.getState().replaceGraph(viewGraph(config));
  return store;
}

describe("a read-only (view mode) store", () => {
  it("starts with the page's graph, clean", () => {
    const store = viewStore();
    expect(store.getState().readOnly).toBe(true);
    expect(store.getState().nodes.map((n) => n.id)).toEqual(["a", "b"]);
    expect(store.getState().edges).toHaveLength(1);
    expect(store.getState().dirty).toBe(false);
  });

  it("takes picking and measuring from the canvas, never moves or removals", () => {
    const store = viewStore();
    store.getState().onNodesChange([
      { type: "position", id: "a", position: { x: 500, y: 500 }, dragging: true },
      { type: "remove", id: "b" },
      { type: "select", id: "a", selected: true },
      { type: "dimensions", id: "a", dimensions: { width: 260, height: 90 } },
    ]);
    store.getState().onEdgesChange([{ type: "remove", id: "e" }]);
    const [a, b] = store.getState().nodes;
    expect(a.position).toEqual({ x: 0, y: 0 });
    expect(a.selected).toBe(true);
    expect(a.measured).toEqual({ width: 260, height: 90 });
    expect(b.id).toBe("b");
    expect(store.getState().edges).toHaveLength(1);
    expect(store.getState().dirty).toBe(false);
  });

  it("an editable store still moves nodes", () => {
    const store = createEditorStore();
    store.getState().replaceGraph({ nodes: [node("a", "input:text")], edges: [] });
    store.getState().onNodesChange([{ type: "position", id: "a", position: { x: 5, y: 6 } }]);
    expect(store.getState().nodes[0].position).toEqual({ x: 5, y: 6 });
    expect(store.getState().dirty).toBe(true);
  });

  it("measures the ghosts of a comparison apart from the graph, which stays clean", () => {
    const store = createEditorStore();
    store.getState().replaceGraph({ nodes: [node("a", "input:text")], edges: [] });
    const ghost = { ...node("old", "input:text"), className: "wf-ghost" };
    store.getState().setCompare({
      number: 1,
      against: 2,
      marks: { old: "removed" },
      ghosts: { nodes: [ghost], edges: [] },
      diff: { nodesAdded: [], nodesRemoved: ["old"], nodesChanged: [], edgesAdded: [], edgesRemoved: [] },
    });
    store.getState().onNodesChange([{ type: "dimensions", id: "old", dimensions: { width: 260, height: 90 } }]);
    expect(store.getState().nodes.map((n) => n.id)).toEqual(["a"]);
    expect(store.getState().compare?.ghosts.nodes[0].measured).toEqual({ width: 260, height: 90 });
    expect(store.getState().dirty).toBe(false);
  });

  it("closing the versions panel clears the comparison", () => {
    const store = createEditorStore();
    store.getState().setSidePanel("versions");
    store.getState().setCompare({
      number: 1,
      against: 2,
      marks: {},
      ghosts: { nodes: [], edges: [] },
      diff: { nodesAdded: [], nodesRemoved: [], nodesChanged: [], edgesAdded: [], edgesRemoved: [] },
    });
    store.getState().setSidePanel(null);
    expect(store.getState().compare).toBeNull();
  });
});
