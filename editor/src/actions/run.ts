/** Running the workflow from the editor: execute, follow live, cancel. */
import type { JsonValue } from "../api/types";
import type { EditorEnv } from "../env";
import { upstreamOf } from "../graph/connection";
import { isBasedNode } from "../graph/types";
import type { EditorStore } from "../store";
import { reportError, saveWorkflow } from "./workflow";

interface ExecuteOut {
  executionId: string;
  status: string;
}

export interface RunOptions {
  inputs?: Record<string, JsonValue>;
  targetNodeId?: string;
}

export async function runWorkflow(store: EditorStore, env: EditorEnv, options: RunOptions = {}): Promise<void> {
  const state = store.getState();
  if (state.dirty || !state.workflow.id) {
    if (!(await saveWorkflow(store, env))) return;
  }
  const id = store.getState().workflow.id as string;
  try {
    const out = await env.api.post<ExecuteOut>(`/workflows/${id}/execute`, {
      inputs: options.inputs ?? {}, ...(options.targetNodeId ? { targetNodeId: options.targetNodeId } : {}),
    });
    const { nodes, edges } = store.getState();
    const runnable = nodes.filter(isBasedNode).map((n) => n.id);
    // "Run to here" runs the target and what it needs; the rest keeps no status.
    const needed = options.targetNodeId ? upstreamOf(options.targetNodeId, edges) : null;
    const nodeIds = needed ? runnable.filter((id) => needed.has(id)) : runnable;
    store.getState().startRun(out.executionId, nodeIds);
    store.getState().setRunPanelOpen(true);
    env.live.follow(out.executionId);
  } catch (error) {
    reportError(store, "Cannot run", error);
  }
}

export async function cancelRun(store: EditorStore, env: EditorEnv): Promise<void> {
  const { executionId } = store.getState().run;
  if (!executionId) return;
  try {
    await env.api.post(`/workflows/executions/${executionId}/cancel`);
    store.getState().toast("info", "Cancelling the run…");
  } catch (error) {
    reportError(store, "Cannot cancel", error);
  }
}

/** Input nodes whose values the run dialog asks for, with their current params as defaults. */
export function inputNodes(store: EditorStore) {
  return store.getState().nodes.filter(isBasedNode).filter((n) => n.data.nodeType.startsWith("input:"));
}
