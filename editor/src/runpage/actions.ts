/** The run page's buttons: re-run (all of it, or from failed) opens the new run's page; cancel
 * asks the engine to stop (the live events then show it). Failures are told, never silent. */
import { reportError } from "../actions/errors";
import type { EditorEnv } from "../env";
import type { EditorStore } from "../store";
import type { RerunIn, RerunOut } from "./types";

export const runPageUrl = (executionId: string): string => `/runs/${encodeURIComponent(executionId)}/`;

export async function rerun(
  store: EditorStore,
  env: EditorEnv,
  executionId: string,
  fromFailed: boolean,
  open: (url: string) => void = (url) => window.location.assign(url),
): Promise<string | null> {
  const body: RerunIn = { fromFailed };
  try {
    const started = await env.api.post<RerunOut>(
      `/workflows/executions/${encodeURIComponent(executionId)}/rerun`,
      body,
    );
    open(runPageUrl(started.executionId));
    return started.executionId;
  } catch (error) {
    reportError(store, fromFailed ? "Could not retry the run" : "Could not re-run", error);
    return null;
  }
}

export async function cancelRun(store: EditorStore, env: EditorEnv, executionId: string): Promise<void> {
  try {
    await env.api.post(`/workflows/executions/${encodeURIComponent(executionId)}/cancel`, {});
    store.getState().toast("info", "Cancelling the run…");
  } catch (error) {
    reportError(store, "Could not cancel the run", error);
  }
}
