/** Loading and saving the workflow: the editor's side of the workflows REST API. */
import { ApiError } from "../api/client";
import type { Catalogue, ExecutionPoll, HistoryOut, LintResult, NodeSpec, WorkflowOut } from "../api/types";
import type { EditorEnv } from "../env";
import { parseGraph, toSaved } from "../graph/clipboard";
import type { EditorStore } from "../store";
import type { WorkflowMeta } from "../store/types";
import { reportError } from "./errors";

export async function loadCatalogue(env: EditorEnv): Promise<Catalogue> {
  const { nodes } = await env.api.get<{ nodes: NodeSpec[] }>("/nodes");
  return new Map(nodes.map((spec) => [spec.nodeType, spec]));
}

export async function loadWorkflow(store: EditorStore, env: EditorEnv, id: string): Promise<void> {
  const workflow = await env.api.get<WorkflowOut>(`/workflows/${id}`);
  const graph = parseGraph({ nodes: workflow.nodes, edges: workflow.edges }) ?? { nodes: [], edges: [] };
  store.getState().replaceGraph(graph);
  store.getState().setWorkflow(metaOf(workflow));
}

/** Reattach to a run in progress, or show the outputs of the last one. */
export async function loadLastRun(store: EditorStore, env: EditorEnv, id: string): Promise<void> {
  const { executions } = await env.api.get<HistoryOut>(`/workflows/${id}/executions?limit=1`);
  const last = executions[0];
  if (!last) return;
  if (last.status === "RUNNING") {
    store.getState().startRun(last.executionId, []);
    env.live.follow(last.executionId);
    return;
  }
  const poll = await env.api.get<ExecutionPoll>(`/workflows/executions/${last.executionId}/poll`);
  store.getState().applySnapshot(poll, 0);
}

export function metaOf(w: WorkflowOut): WorkflowMeta {
  return {
    id: w.id,
    name: w.name,
    description: w.description ?? "",
    tags: w.tags ?? [],
    isActive: w.isActive ?? true,
    updatedAt: w.updatedAt,
    version: w.version ?? null,
  };
}

/**
 * Save the graph: POST on the first save (then the URL becomes /workflows/<id>/edit), PUT with
 * `baseUpdatedAt` after that so a concurrent edit elsewhere is never silently overwritten.
 */
export async function saveWorkflow(store: EditorStore, env: EditorEnv, overwrite = false): Promise<boolean> {
  const state = store.getState();
  if (state.saving) return false;
  const { workflow } = state;
  const body = {
    name: workflow.name.trim() || "Untitled workflow",
    description: workflow.description,
    tags: workflow.tags,
    isActive: workflow.isActive,
    ...toSaved(state.nodes, state.edges),
  };
  const revision = { nodes: state.nodes, edges: state.edges };
  state.setSaving(true);
  try {
    const saved = workflow.id
      ? await env.api.put<WorkflowOut>(
          `/workflows/${workflow.id}`,
          overwrite ? body : { ...body, baseUpdatedAt: workflow.updatedAt },
        )
      : await env.api.post<WorkflowOut>("/workflows", body);
    afterSave(store, saved, revision);
    return true;
  } catch (error) {
    reportSaveError(store, error);
    return false;
  } finally {
    store.getState().setSaving(false);
  }
}

function afterSave(store: EditorStore, saved: WorkflowOut, revision: { nodes: unknown; edges: unknown }): void {
  const state = store.getState();
  const isNew = !state.workflow.id;
  state.setWorkflow(metaOf(saved));
  // Edits made while the request was in flight are still unsaved.
  if (state.nodes === revision.nodes && state.edges === revision.edges) state.markSaved();
  state.setIssues([]);
  // The comparison was against the version before this save.
  state.setCompare(null);
  state.toast("success", "Saved");
  if (isNew) window.history.replaceState(null, "", `/workflows/${saved.id}/edit`);
}

function reportSaveError(store: EditorStore, error: unknown): void {
  if (error instanceof ApiError && error.code === "stale_write") {
    store.getState().setDialog("conflict");
    return;
  }
  reportError(store, "Not saved", error);
}

/** Ask the server what is wrong with the graph as it is now; shown on the nodes and edges. */
export async function lintGraph(store: EditorStore, env: EditorEnv): Promise<void> {
  const { nodes, edges } = store.getState();
  if (nodes.length === 0) return store.getState().setIssues([]);
  try {
    const result = await env.api.post<LintResult>("/workflows/lint", toSaved(nodes, edges));
    const current = store.getState();
    if (current.nodes === nodes && current.edges === edges) current.setIssues(result.violations ?? []);
  } catch (error) {
    // The marks on the canvas would be stale; say why they are not updated.
    reportError(store, "Could not check the graph", error);
  }
}

/** Delete the saved workflow (after the user confirmed) and go back to the list. */
export async function deleteWorkflow(store: EditorStore, env: EditorEnv): Promise<void> {
  const { id } = store.getState().workflow;
  if (id) {
    try {
      await env.api.delete(`/workflows/${id}`);
    } catch (error) {
      reportError(store, "Not deleted", error);
      return;
    }
  }
  store.getState().markSaved();
  window.location.assign(env.config.listUrl);
}
