/**
 * The Export JSON file: the saved graph plus the workflow's name and the version it was saved
 * as, so a file says which version it is. Import reads back only the graph (graphInText), so a
 * file from another workflow, an older export or the API's own JSON imports the same way.
 */
import { graphInText, toSaved } from "./clipboard";
import type { Graph, WfEdge, WfNode } from "./types";

export interface ExportedWorkflow extends Graph {
  name: string;
  description: string;
  tags: string[];
  /** The saved version the canvas was at; null for a workflow never saved. */
  version: number | null;
}

export function exportPayload(
  workflow: { name: string; description: string; tags: string[]; version: number | null },
  nodes: readonly WfNode[],
  edges: readonly WfEdge[],
): ExportedWorkflow {
  const { name, description, tags, version } = workflow;
  return { name, description, tags, version, ...toSaved(nodes, edges) };
}

export function exportFileName(name: string, version: number | null): string {
  const base = name.replace(/[^\w-]+/g, "_") || "workflow";
  return version ? `${base}-v${version}.json` : `${base}.json`;
}

/** The graph of an imported file and, when the file says so, the version it was exported at. */
export function readImport(text: string): { graph: Graph; version: number | null } | null {
  const found = graphInText(text);
  if (!found) return null;
  const version = (found.value as { version?: unknown }).version;
  return { graph: found.graph, version: typeof version === "number" && Number.isInteger(version) ? version : null };
}
