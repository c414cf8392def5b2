/**
 * The page's `editor-config` JSON, read defensively: the editor page, the template page and the
 * run page each write it, so a missing or odd field falls back to what the editor did before.
 */
import type { EditorConfig, Permissions } from "./api/types";
import { parseGraph } from "./graph/clipboard";
import type { Graph } from "./graph/types";

/** The actions the editor asks about (accounts/permissions.py's Action values). */
export type Action = "modify" | "execute" | "publish_template";

export function readConfig(value: unknown): EditorConfig {
  const raw = isRecord(value) ? value : {};
  const graph =
    isRecord(raw.graph) && Array.isArray(raw.graph.nodes) && Array.isArray(raw.graph.edges)
      ? { nodes: raw.graph.nodes as unknown[], edges: raw.graph.edges as unknown[] }
      : undefined;
  return {
    workflowId: typeof raw.workflowId === "string" && raw.workflowId ? raw.workflowId : null,
    csrfToken: typeof raw.csrfToken === "string" ? raw.csrfToken : "",
    apiBase: typeof raw.apiBase === "string" && raw.apiBase ? raw.apiBase : "/api/v1",
    listUrl: typeof raw.listUrl === "string" && raw.listUrl ? raw.listUrl : "/workflows/",
    team: isRecord(raw.team) ? (raw.team as EditorConfig["team"]) : null,
    mode: raw.mode === "view" ? "view" : "edit",
    graph,
    permissions: isRecord(raw.permissions) ? booleans(raw.permissions) : undefined,
    publicTemplates: raw.publicTemplates === true,
    publishedTemplateId:
      typeof raw.publishedTemplateId === "string" && raw.publishedTemplateId ? raw.publishedTemplateId : null,
    executionId: raw.mode === "view" && typeof raw.executionId === "string" && raw.executionId ? raw.executionId : null,
  };
}

/** Whether the person may do `action` here; a page that says nothing allows it (the server
 * still refuses with 403 forbidden_role, shown as a toast). */
export function may(config: EditorConfig, action: Action): boolean {
  if (config.mode === "view") return false;
  return config.permissions?.[action] ?? true;
}

/** The canvas takes no edits: view mode, or a role that may not modify workflows. */
export function isReadOnly(config: EditorConfig): boolean {
  return !may(config, "modify");
}

/** View mode's graph, with what cannot be shown dropped. */
export function viewGraph(config: EditorConfig): Graph {
  return (config.graph && parseGraph(config.graph)) ?? { nodes: [], edges: [] };
}

function booleans(value: Record<string, unknown>): Permissions {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "boolean")) as Permissions;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
