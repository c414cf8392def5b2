import { describe, expect, it } from "vitest";
import { catalogue } from "../test/fixtures";
import { createEditorStore } from "./index";

function editor() {
  const store = createEditorStore();
  store.setState({ catalogue });
  return store;
}
const ids = (store: ReturnType<typeof editor>) => store.getState().nodes.map((n) => n.id);

describe("the editor store", () => {
  it("undoes and redoes adding a node", () => {
    const store = editor();
    const id = store.getState().addNode("input:text", { x: 0, y: 0 });
    expect(ids(store)).toEqual([id]);
    store.getState().undo();
    expect(ids(store)).toEqual([]);
    store.getState().redo();
    expect(ids(store)).toEqual([id]);
  });

  it("undoes a connection and a deletion step by step", () => {
    const store = editor();
    const a = store.getState().addNode("input:text", { x: 0, y: 0 })!;
    const b = store.getState().addNode("generate:flux_2", { x: 300, y: 0 })!;
    const check = store
      .getState()
      .connect({ source: a, target: b, sourceHandle: "out-text", targetHandle: "in-prompt" });
    expect(check.ok).toBe(true);
    store.getState().selectAll();
    store.getState().deleteSelected();
    expect(store.getState().nodes).toEqual([]);
    store.getState().undo();
    expect(ids(store)).toEqual([a, b]);
    expect(store.getState().edges).toHaveLength(1);
    store.getState().undo();
    expect(store.getState().edges).toHaveLength(0);
  });

  it("refuses an invalid connection without touching the graph or history", () => {
    const store = editor();
    const a = store.getState().addNode("generate:flux_2", { x: 0, y: 0 })!;
    const b = store.getState().addNode("utility:prompt_concat", { x: 300, y: 0 })!;
    const before = store.getState().history.past.length;
    const check = store
      .getState()
      .connect({ source: a, target: b, sourceHandle: "out-image", targetHandle: "in-texts" });
    expect(check.ok).toBe(false);
    expect(store.getState().edges).toEqual([]);
    expect(store.getState().history.past).toHaveLength(before);
  });

  it("coalesces typing into one field into a single undo step", () => {
    const store = editor();
    const a = store.getState().addNode("input:text", { x: 0, y: 0 })!;
    for (const text of ["a", "a r", "a red fox"]) store.getState().updateParams(a, { text });
    store.getState().undo();
    const node = store.getState().nodes[0];
    expect(node.type === "basedNode" && node.data.params.text).toBe("");
  });

  it("duplicates the selection with fresh ids and unique labels", () => {
    const store = editor();
    const a = store.getState().addNode("input:text", { x: 0, y: 0 })!;
    store.getState().duplicateSelected();
    const [first, copy] = store.getState().nodes;
    expect(first.id).toBe(a);
    expect(copy.id).not.toBe(a);
    expect(copy.data.label).toBe("Text input 2");
    expect(copy.position).toEqual({ x: 40, y: 40 });
  });

  it("marks the graph dirty on edits and clean once saved", () => {
    const store = editor();
    store.getState().addNode("input:text", { x: 0, y: 0 });
    expect(store.getState().dirty).toBe(true);
    store.getState().markSaved();
    expect(store.getState().dirty).toBe(false);
  });

  it("ignores run events older than the ones it holds", () => {
    const store = editor();
    store.getState().startRun("x1", ["n1"]);
    store.getState().applyNodeState({ nodeId: "n1", status: "COMPLETED" }, 5);
    store.getState().applyNodeState({ nodeId: "n1", status: "RUNNING" }, 4);
    expect(store.getState().run.nodes.n1.status).toBe("COMPLETED");
  });
});
