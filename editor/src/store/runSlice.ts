import type { StateCreator } from "zustand";
import type { NodeState } from "../api/types";
import type { EditorState, RunSlice, RunState } from "./types";

export const idleRun = (): RunState => ({
  executionId: null,
  status: null,
  error: null,
  startTime: null,
  endTime: null,
  creditsUsed: null,
  seq: 0,
  nodes: {},
  streams: {},
});

export const createRunSlice: StateCreator<EditorState, [], [], RunSlice> = (set, get) => ({
  run: idleRun(),

  startRun: (executionId, nodeIds) => {
    const nodes: Record<string, NodeState> = {};
    for (const nodeId of nodeIds) nodes[nodeId] = { nodeId, status: "PENDING" };
    set({ run: { ...idleRun(), executionId, status: "RUNNING", startTime: new Date().toISOString(), nodes } });
  },

  applySnapshot: (poll, seq) => {
    const same = poll.executionId === get().run.executionId;
    const nodes: Record<string, NodeState> = {};
    for (const state of poll.nodeStates ?? []) nodes[state.nodeId] = state;
    set({
      run: {
        executionId: poll.executionId,
        status: poll.status,
        error: poll.error ?? null,
        startTime: poll.startTime ?? null,
        endTime: poll.endTime ?? null,
        creditsUsed: poll.creditsUsed ?? null,
        seq,
        nodes,
        streams: same ? get().run.streams : {},
      },
    });
  },

  // Events older than what we hold are replays after a reconnect; skip them.
  applyNodeState: (state, seq) => {
    const { run } = get();
    if (seq <= run.seq) return;
    set({ run: { ...run, seq, nodes: { ...run.nodes, [state.nodeId]: state } } });
  },

  // Text so far of a node that is running: each message carries all of it, so a lost one
  // costs nothing. Text for a node no longer running is late, and ignored.
  applyStream: (nodeId, text) => {
    const { run } = get();
    if (run.nodes[nodeId]?.status !== "RUNNING") return;
    set({ run: { ...run, streams: { ...run.streams, [nodeId]: text } } });
  },

  applyExecution: (update, seq) => {
    const { run } = get();
    if (seq <= run.seq || update.executionId !== run.executionId) return;
    set({
      run: {
        ...run,
        seq,
        status: update.status,
        error: update.error ?? null,
        endTime: update.endTime ?? null,
        creditsUsed: update.creditsUsed ?? run.creditsUsed,
      },
    });
  },
});
