/** Running the workflow from the editor: execute, follow live, cancel. */
import type { ExecuteOut, JsonValue } from "../api/types";
import type { EditorEnv } from "../env";
import { upstreamOf } from "../graph/connection";
import { isBasedNode } from "../graph/types";
import { runInputRows } from "../run/inputs";
import type { EditorStore } from "../store";
import { type Explained, reportError } from "./errors";
import { saveWorkflow } from "./workflow";

export interface RunOptions {
  inputs?: Record<string, JsonValue>;
  targetNodeId?: string;
}

/** null when the run started; else what went wrong (already shown to the person). */
export type RunFailure = Explained | null;

export async function runWorkflow(store: EditorStore, env: EditorEnv, options: RunOptions = {}): Promise<RunFailure> {
  const state = store.getState();
  if (state.dirty || !state.workflow.id) {
    if (!(await saveWorkflow(store, env)))
      return { message: "The workflow could not be saved", issues: null, inputErrors: {} };
  }
  const id = store.getState().workflow.id as string;
  try {
    const out = await env.api.post<ExecuteOut>(`/workflows/${id}/execute`, {
      inputs: options.inputs ?? {},
      ...(options.targetNodeId ? { targetNodeId: options.targetNodeId } : {}),
    });
    const { nodes, edges } = store.getState();
    const runnable = nodes.filter(isBasedNode).map((n) => n.id);
    // "Run to here" runs the target and what it needs; the rest keeps no status.
    const needed = options.targetNodeId ? upstreamOf(options.targetNodeId, edges) : null;
    const nodeIds = needed ? runnable.filter((id) => needed.has(id)) : runnable;
    store.getState().startRun(out.executionId, nodeIds);
    store.getState().setRunPanelOpen(true);
    env.live.follow(out.executionId);
    return null;
  } catch (error) {
    return reportError(store, "Cannot run", error);
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

/** Whether a run asks for values first: the graph has input nodes. */
export function hasRunInputs(store: EditorStore): boolean {
  const { nodes, catalogue } = store.getState();
  return runInputRows(nodes, catalogue).length > 0;
}
