/**
 * A version diff (docs/api.md: GET /workflows/{id}/versions/{a}/diff/{b}) as the canvas shows it:
 * nodes added since version a in green, changed in amber, and the removed ones drawn as
 * "ghosts" from version a's graph in red; changed params listed from → to in the panel.
 */
import type { JsonValue } from "../api/types";
import type { FieldChange, VersionDiff } from "../api/sharing";
import { cleanEdge, cleanNode } from "../graph/clipboard";
import type { Graph, WfEdge, WfNode } from "../graph/types";

export type DiffMark = "added" | "changed" | "removed";

export interface ChangeRow {
  nodeId: string;
  label: string;
  field: string;
  from: string;
  to: string;
}

/** The mark of each node id the diff names; removed ids belong to the ghosts. */
export function diffMarks(diff: VersionDiff): Record<string, DiffMark> {
  const marks: Record<string, DiffMark> = {};
  for (const id of diff.nodesRemoved) marks[id] = "removed";
  for (const { nodeId } of diff.nodesChanged) marks[nodeId] = "changed";
  for (const id of diff.nodesAdded) marks[id] = "added";
  return marks;
}

/**
 * The removed nodes as version a had them, and the removed edges that can still be drawn (both
 * ends on the canvas), for showing beside the current graph. They can be neither moved, picked
 * nor wired, and never reach the saved graph. A removed id the canvas reuses is left out.
 */
export function ghostsOf(
  old: Graph,
  diff: VersionDiff,
  current: { nodes: readonly WfNode[]; edges: readonly WfEdge[] },
): Graph {
  const taken = new Set(current.nodes.map((n) => n.id));
  const removed = new Set(diff.nodesRemoved.filter((id) => !taken.has(id)));
  const nodes = old.nodes
    .filter((n) => removed.has(n.id))
    .map(
      (n) =>
        ({
          ...cleanNode(n),
          draggable: false,
          selectable: false,
          connectable: false,
          deletable: false,
          focusable: false,
          className: "wf-ghost",
          zIndex: -1, // under the current graph's nodes
        }) as WfNode,
    );
  const shown = new Set([...taken, ...removed]);
  const takenEdges = new Set(current.edges.map((e) => e.id));
  const gone = new Set(diff.edgesRemoved);
  const edges = old.edges
    .filter((e) => gone.has(e.id) && !takenEdges.has(e.id) && shown.has(e.source) && shown.has(e.target))
    .map((e) => ({
      ...cleanEdge(e),
      selectable: false,
      focusable: false,
      deletable: false,
      className: "wf-edge--removed",
    }));
  return { nodes, edges };
}

/** One row per changed field, in the diff's order, labelled with the node's name. */
export function changeRows(diff: VersionDiff, labelOf: (nodeId: string) => string): ChangeRow[] {
  return diff.nodesChanged.flatMap(({ nodeId, changes }) =>
    Object.entries(changes).map(([key, change]: [string, FieldChange]) => ({
      nodeId,
      label: labelOf(nodeId),
      field: fieldName(key),
      from: formatValue(change.from),
      to: formatValue(change.to),
    })),
  );
}

/** "params.image_size" → "image_size", "nodeType" → "node type", "label" → "label". */
export function fieldName(key: string): string {
  if (key.startsWith("params.")) return key.slice("params.".length);
  return key === "nodeType" ? "node type" : key;
}

const MAX_SHOWN = 80;

/** A value as one short line: strings as they are, the rest as JSON, "—" for absent. */
export function formatValue(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

/** "2 added · 1 removed · 3 changed", or that nothing differs. */
export function diffSummary(diff: VersionDiff): string {
  const counts: Array<[number, string]> = [
    [diff.nodesAdded.length, "added"],
    [diff.nodesRemoved.length, "removed"],
    [diff.nodesChanged.length, "changed"],
  ];
  const parts = counts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  const edges = diff.edgesAdded.length + diff.edgesRemoved.length;
  if (edges) parts.push(`${edges} connection${edges === 1 ? "" : "s"} changed`);
  return parts.length ? parts.join(" · ") : "No differences";
}
