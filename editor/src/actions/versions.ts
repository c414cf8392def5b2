/** The editor's side of docs/api.md "Versions": list, tag, compare with the latest, restore. */
import { ApiError } from "../api/client";
import type { RestoreIn, TagIn, VersionDetail, VersionDiff, VersionList, VersionSummary } from "../api/sharing";
import type { WorkflowOut } from "../api/types";
import type { EditorEnv } from "../env";
import { parseGraph } from "../graph/clipboard";
import type { EditorStore } from "../store";
import { diffMarks, ghostsOf } from "../versions/diff";
import { explain } from "./errors";
import { metaOf } from "./workflow";

const base = (workflowId: string) => `/workflows/${encodeURIComponent(workflowId)}/versions`;

export const VERSIONS_PAGE = 100;

/** A page of versions, newest first; `before` pages on to older ones. */
export async function listVersions(env: EditorEnv, workflowId: string, before?: number): Promise<VersionSummary[]> {
  const query = `?limit=${VERSIONS_PAGE}${before ? `&before=${before}` : ""}`;
  const { versions } = await env.api.get<VersionList>(`${base(workflowId)}${query}`);
  return versions;
}

/** Tag (or re-tag) a version with the note as the form shows it (prefilled with the version's
 * own, so an emptied note is removed); 422/409 messages reach the form as ApiErrors. */
export function tagVersion(
  env: EditorEnv,
  workflowId: string,
  number: number,
  tag: string,
  note: string,
): Promise<unknown> {
  const body: TagIn = { tag: tag.trim(), note: note.trim() };
  return env.api.post(`${base(workflowId)}/${number}/tag`, body);
}

export function untagVersion(env: EditorEnv, workflowId: string, number: number): Promise<unknown> {
  return env.api.delete(`${base(workflowId)}/${number}/tag`);
}

/**
 * Compare `number` with the latest saved version: marks on the current canvas for what was
 * added and changed since, ghosts from the old graph for what was removed.
 */
export async function compareWithLatest(
  store: EditorStore,
  env: EditorEnv,
  workflowId: string,
  number: number,
  latest: number,
): Promise<void> {
  const [diff, old] = await Promise.all([
    env.api.get<VersionDiff>(`${base(workflowId)}/${number}/diff/${latest}`),
    env.api.get<VersionDetail>(`${base(workflowId)}/${number}`),
  ]);
  const { nodes, edges } = store.getState();
  const oldGraph = parseGraph({ nodes: old.nodes, edges: old.edges }) ?? { nodes: [], edges: [] };
  store.getState().setCompare({
    number,
    against: latest,
    diff,
    marks: diffMarks(diff),
    ghosts: ghostsOf(oldGraph, diff, { nodes, edges }),
  });
}

/** Restore makes a new version equal to `number`; the canvas takes it as saved (so the next
 * save's baseUpdatedAt is the restored one, not stale). Undo brings the previous graph back. */
export async function restoreVersion(
  store: EditorStore,
  env: EditorEnv,
  workflowId: string,
  number: number,
): Promise<WorkflowOut> {
  const before = store.getState().workflow;
  // Like a save: refused (409 stale_write) if someone saved since this editor last did.
  const body: RestoreIn = { baseUpdatedAt: before.updatedAt };
  const workflow = await env.api.post<WorkflowOut>(`${base(workflowId)}/${number}/restore`, body);
  const graph = parseGraph({ nodes: workflow.nodes, edges: workflow.edges }) ?? { nodes: [], edges: [] };
  const state = store.getState();
  state.setCompare(null);
  state.replaceGraph(graph, { record: true, dirty: false });
  state.setWorkflow(metaOf(workflow));
  state.setIssues([]);
  state.toast(
    "success",
    workflow.version === before.version
      ? `The saved graph already is that of version ${number}`
      : `Restored version ${number} as version ${workflow.version}`,
  );
  return workflow;
}

/** Why a restore was refused, in words for the confirmation dialog. */
export function restoreRefusal(error: unknown): string {
  if (error instanceof ApiError && error.code === "stale_write") {
    return "Someone saved this workflow since you opened it. Reload the page to see their changes, then restore.";
  }
  return explain(error).message;
}
