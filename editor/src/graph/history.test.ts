import { describe, expect, it } from "vitest";
import { node } from "../test/fixtures";
import { emptyHistory, record, redo, undo } from "./history";
import type { Graph } from "./types";

const g = (...ids: string[]): Graph => ({ nodes: ids.map((id) => node(id, "input:text")), edges: [] });
const ids = (graph: Graph) => graph.nodes.map((n) => n.id);

describe("history", () => {
  it("undoes back to the recorded graph and redoes forward again", () => {
    const h1 = record(emptyHistory(), g("a"));
    const back = undo(h1, g("a", "b"));
    expect(back && ids(back.graph)).toEqual(["a"]);
    const forward = back && redo(back.history, back.graph);
    expect(forward && ids(forward.graph)).toEqual(["a", "b"]);
  });
  it("has nothing to undo or redo when empty", () => {
    expect(undo(emptyHistory(), g())).toBeNull();
    expect(redo(emptyHistory(), g())).toBeNull();
  });
  it("forgets the redo branch after a new change", () => {
    const back = undo(record(emptyHistory(), g("a")), g("a", "b"));
    expect(back).not.toBeNull();
    const h = record(back!.history, g("a", "c"));
    expect(h.future).toEqual([]);
  });
  it("keeps at most the limit of steps", () => {
    let h = emptyHistory();
    for (let i = 0; i < 5; i += 1) h = record(h, g(String(i)), 3);
    expect(h.past.map(ids)).toEqual([["2"], ["3"], ["4"]]);
  });
  it("does not restore selection", () => {
    const selected = { nodes: [{ ...node("a", "input:text"), selected: true }], edges: [] };
    expect(record(emptyHistory(), selected).past[0].nodes[0].selected).toBe(false);
  });
});
