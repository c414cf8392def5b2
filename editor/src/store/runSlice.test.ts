import { describe, expect, it } from "vitest";
import { createEditorStore } from "./index";

function running() {
  const store = createEditorStore();
  store.getState().startRun("x1", ["llm", "out"]);
  store.getState().applyNodeState({ nodeId: "llm", status: "RUNNING" }, 1);
  return store;
}

describe("streamed text of a running node", () => {
  it("holds the newest text of a running node", () => {
    const store = running();
    store.getState().applyStream("llm", "Once");
    store.getState().applyStream("llm", "Once upon");
    expect(store.getState().run.streams.llm).toBe("Once upon");
  });

  it("ignores text for a node that is not running", () => {
    const store = running();
    store.getState().applyStream("out", "late");
    store.getState().applyNodeState({ nodeId: "llm", status: "COMPLETED" }, 2);
    store.getState().applyStream("llm", "late too");
    expect(store.getState().run.streams).toEqual({});
  });

  it("keeps it across a snapshot of the same run, not of another", () => {
    const store = running();
    store.getState().applyStream("llm", "Once");
    const poll = { executionId: "x1", status: "RUNNING", nodeStates: [{ nodeId: "llm", status: "RUNNING" }] };
    store.getState().applySnapshot(poll as never, 3);
    expect(store.getState().run.streams.llm).toBe("Once");
    store.getState().applySnapshot({ ...poll, executionId: "x2" } as never, 1);
    expect(store.getState().run.streams).toEqual({});
  });

  it("starts a new run with none", () => {
    const store = running();
    store.getState().applyStream("llm", "Once");
    store.getState().startRun("x3", ["llm"]);
    expect(store.getState().run.streams).toEqual({});
  });
});
