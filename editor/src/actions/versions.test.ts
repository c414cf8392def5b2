import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { VersionDetail, VersionDiff } from "../api/sharing";
import { createEditorStore } from "../store";
import { fakeEnv } from "../test/fakeEnv";
import { edge, node } from "../test/fixtures";
import { compareWithLatest, restoreRefusal, restoreVersion } from "./versions";

const v1: VersionDetail = {
  number: 1,
  tag: null,
  note: "",
  createdAt: "2026-11-28T10:00:00.000Z",
  createdBy: "ada@example.com",
  nodeCount: 2,
  edgeCount: 1,
  nodes: [node("p", "input:text"), node("gone", "input:text", 0, 200)],
  edges: [edge("gone-p", "gone", "text", "p", "text")],
};
const diff: VersionDiff = {
  nodesAdded: ["f"],
  nodesRemoved: ["gone"],
  nodesChanged: [{ nodeId: "p", changes: { "params.text": { from: "fox", to: "heron" } } }],
  edgesAdded: ["p-f"],
  edgesRemoved: [],
};

function editorAtV3() {
  const store = createEditorStore();
  store.getState().replaceGraph({
    nodes: [node("p", "input:text"), node("f", "generate:flux_2", 300)],
    edges: [edge("p-f", "p", "text", "f", "prompt")],
  });
  store.getState().setWorkflow({ id: "w1", version: 3, updatedAt: "2026-11-28T12:00:00.000Z" });
  return store;
}

describe("versions in the editor", () => {
  it("compares a version with the latest: marks, ghosts, and the canvas left as it was", async () => {
    const store = editorAtV3();
    const env = fakeEnv({ "GET /workflows/w1/versions/1/diff/3": diff, "GET /workflows/w1/versions/1": v1 });
    const before = store.getState().nodes;
    await compareWithLatest(store, env, "w1", 1, 3);
    const { compare } = store.getState();
    expect(compare?.marks).toEqual({ f: "added", p: "changed", gone: "removed" });
    expect(compare?.ghosts.nodes.map((n) => n.id)).toEqual(["gone"]);
    expect(store.getState().nodes).toBe(before);
    expect(store.getState().dirty).toBe(false);
  });

  it("restores: the returned workflow becomes the saved graph, so the next save is not stale", async () => {
    const store = editorAtV3();
    store.setState({ dirty: true });
    const restored = {
      id: "w1",
      name: "Fox",
      description: "",
      tags: [],
      isActive: true,
      teamId: 1,
      createdAt: "2026-11-28T10:00:00.000Z",
      updatedAt: "2026-11-28T12:30:00.000Z",
      version: 4,
      nodes: v1.nodes,
      edges: v1.edges,
      executionCount: 0,
      lastExecutedAt: null,
      webhookEnabled: false,
    };
    const env = fakeEnv({ "POST /workflows/w1/versions/1/restore": restored });
    await restoreVersion(store, env, "w1", 1);
    expect(env.calls[0].body).toEqual({ baseUpdatedAt: "2026-11-28T12:00:00.000Z" });
    const state = store.getState();
    expect(state.nodes.map((n) => n.id)).toEqual(["p", "gone"]);
    expect(state.workflow.version).toBe(4);
    expect(state.workflow.updatedAt).toBe("2026-11-28T12:30:00.000Z");
    expect(state.dirty).toBe(false);
    expect(state.toasts.at(-1)?.message).toBe("Restored version 1 as version 4");
    state.undo();
    expect(store.getState().nodes.map((n) => n.id)).toEqual(["p", "f"]);
  });
});

describe("a refused restore", () => {
  it("explains a stale write as someone else's save", () => {
    expect(
      restoreRefusal(new ApiError(409, { error: "Workflow was modified since baseUpdatedAt", code: "stale_write" })),
    ).toMatch(/^Someone saved this workflow since you opened it/);
    expect(restoreRefusal(new ApiError(404, { error: "Version not found", code: "not_found" }))).toBe(
      "Version not found",
    );
  });
});
