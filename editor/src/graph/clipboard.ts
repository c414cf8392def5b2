/**
 * Copy/paste as graph JSON, so a selection can move between workflows (and browser tabs) through
 * the system clipboard. Pasted nodes always get fresh ids; only edges inside the selection travel.
 */
import { freshId } from "./ids";
import { type Graph, STICKY_NODE_TYPE, type WfEdge, type WfNode } from "./types";

export const CLIPBOARD_KIND = "wireflow/graph";

export interface ClipboardPayload extends Graph {
  kind: typeof CLIPBOARD_KIND;
  version: 1;
}

export function copySelection(nodes: readonly WfNode[], edges: readonly WfEdge[]): ClipboardPayload | null {
  const picked = nodes.filter((n) => n.selected);
  if (picked.length === 0) return null;
  const ids = new Set(picked.map((n) => n.id));
  return {
    kind: CLIPBOARD_KIND,
    version: 1,
    nodes: picked.map(cleanNode),
    edges: edges.filter((e) => ids.has(e.source) && ids.has(e.target)).map(cleanEdge),
  };
}

/** The JSON value of `text` and the graph it holds; null unless it holds one with nodes. */
export function graphInText(text: string): { value: unknown; graph: Graph } | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  const graph = parseGraph(value);
  return graph && graph.nodes.length ? { value, graph } : null;
}

/** Parse clipboard text; null when it is not a Wireflow graph (so other text pastes normally). */
export function parseClipboard(text: string): Graph | null {
  return graphInText(text)?.graph ?? null;
}

/** Keep the well-formed nodes and the edges between them from untrusted JSON. */
export function parseGraph(value: unknown): Graph | null {
  if (!isRecord(value) || !Array.isArray(value.nodes) || !Array.isArray(value.edges)) return null;
  const nodes = value.nodes.filter(isNodeLike).map(normalise);
  const ids = new Set(nodes.map((n) => n.id));
  const edges = (value.edges.filter(isEdgeLike) as WfEdge[]).filter((e) => ids.has(e.source) && ids.has(e.target));
  return { nodes, edges };
}

/** The graph exactly as it is saved: only the keys the API stores. */
export function toSaved(nodes: readonly WfNode[], edges: readonly WfEdge[]): Graph {
  return { nodes: nodes.map(cleanNode), edges: edges.map(cleanEdge) };
}

/** The pasted graph with fresh ids, moved by `offset`, selected so it can be dragged at once. */
export function withFreshIds(
  graph: Graph,
  taken: { nodes: ReadonlySet<string>; edges: ReadonlySet<string> },
  offset: { x: number; y: number },
): Graph {
  const nodeIds = new Set(taken.nodes);
  const edgeIds = new Set(taken.edges);
  const mapping = new Map<string, string>();
  const nodes = graph.nodes.map((n) => {
    const id = freshId("node", nodeIds);
    nodeIds.add(id);
    mapping.set(n.id, id);
    const position = { x: n.position.x + offset.x, y: n.position.y + offset.y };
    return { ...cleanNode(n), id, position, selected: true } as WfNode;
  });
  const edges = graph.edges.map((e) => {
    const id = freshId("edge", edgeIds);
    edgeIds.add(id);
    return { ...cleanEdge(e), id, source: mapping.get(e.source) as string, target: mapping.get(e.target) as string };
  });
  return { nodes, edges };
}

/** Only what is saved: no selection, measurements or drag state. */
export function cleanNode(n: WfNode): WfNode {
  const { id, type, position, data } = n;
  const size = n.type === "stickyNote" && n.width && n.height ? { width: n.width, height: n.height } : {};
  return { id, type, position: { x: position.x, y: position.y }, data, ...size } as WfNode;
}

export function cleanEdge(e: WfEdge): WfEdge {
  const { id, source, target, sourceHandle, targetHandle } = e;
  return { id, source, target, sourceHandle: sourceHandle ?? null, targetHandle: targetHandle ?? null };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNodeLike(value: unknown): value is Record<string, unknown> & { data: Record<string, unknown> } {
  if (!isRecord(value) || typeof value.id !== "string" || !isRecord(value.data)) return false;
  const pos = value.position;
  const placed = isRecord(pos) && typeof pos.x === "number" && typeof pos.y === "number";
  if (value.type === "stickyNote") return placed;
  return value.type === "basedNode" && placed && typeof value.data.nodeType === "string";
}

/** Fill what the editor relies on (a label, a params object, a note text) when JSON lacks it. */
function normalise(value: Record<string, unknown> & { data: Record<string, unknown> }): WfNode {
  const { data } = value;
  if (value.type === "stickyNote") {
    const text = typeof data.text === "string" ? data.text : "";
    return { ...value, data: { ...data, label: "Note", nodeType: STICKY_NODE_TYPE, text } } as unknown as WfNode;
  }
  const label = typeof data.label === "string" && data.label ? data.label : String(data.nodeType);
  const params = isRecord(data.params) ? data.params : {};
  return { ...value, data: { ...data, label, params } } as unknown as WfNode;
}

function isEdgeLike(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.source === "string" &&
    typeof value.target === "string"
  );
}
