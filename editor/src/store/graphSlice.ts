import { applyEdgeChanges, applyNodeChanges, type EdgeChange, type NodeChange } from "@xyflow/react";
import type { StateCreator } from "zustand";
import { copySelection, withFreshIds } from "../graph/clipboard";
import { checkConnection } from "../graph/connection";
import { emptyHistory, record, redo, undo } from "../graph/history";
import { freshId } from "../graph/ids";
import { defaultParams } from "../graph/schema";
import { type BasedNode, type Graph, type WfNode, STICKY_NODE_TYPE, STICKY_SIZE, isBasedNode } from "../graph/types";
import type { EditorState, GraphSlice } from "./types";

type Set = Parameters<StateCreator<EditorState>>[0];
type Get = () => EditorState;

const COALESCE_MS = 1000;
const PASTE_OFFSET = { x: 40, y: 40 };
const CONTENT_CHANGES = new Set(["position", "remove", "add", "replace"]);
// What a read-only canvas still takes from React Flow: measuring and picking, never edits.
const VIEW_CHANGES = new Set(["select", "dimensions"]);

/** Push the current graph on the undo stack; repeated `key`s within a second count once. */
function remember(get: Get, set: Set, key?: string): void {
  const { history, nodes, edges, lastRecord } = get();
  const now = Date.now();
  if (key && lastRecord?.key === key && now - lastRecord.at < COALESCE_MS) {
    set({ lastRecord: { key, at: now } });
    return;
  }
  set({ history: record(history, { nodes, edges }), lastRecord: key ? { key, at: now } : null });
}

function uniqueLabel(base: string, nodes: readonly WfNode[]): string {
  const taken = new Set(nodes.map((n) => n.data.label));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i += 1) if (!taken.has(`${base} ${i}`)) return `${base} ${i}`;
}

function mapNode(nodes: WfNode[], id: string, update: (n: WfNode) => WfNode): WfNode[] {
  return nodes.map((n) => (n.id === id ? update(n) : n));
}

export const createGraphSlice: StateCreator<EditorState, [], [], GraphSlice> = (set, get) => ({
  nodes: [],
  edges: [],
  catalogue: new Map(),
  history: emptyHistory(),
  lastRecord: null,
  dirty: false,
  dragActive: false,
  setCatalogue: (catalogue) => set({ catalogue }),

  onNodesChange: (all: NodeChange<WfNode>[]) => {
    const { readOnly, compare } = get();
    const ghostIds = compare?.ghosts.nodes.length ? new Set(compare.ghosts.nodes.map((n) => n.id)) : null;
    const ours = (c: NodeChange<WfNode>) => !ghostIds || !("id" in c) || !ghostIds.has(c.id);
    if (ghostIds) get().onGhostChanges(all.filter((c) => !ours(c)));
    const changes = all.filter((c) => ours(c) && (!readOnly || VIEW_CHANGES.has(c.type)));
    if (changes.length === 0) return;
    const edits = changes.some((c) => CONTENT_CHANGES.has(c.type));
    // Keyboard nudges arrive as position changes outside a drag; one undo step per burst.
    const nudged = changes.some((c) => c.type === "position" && !c.dragging && c.position);
    if (nudged && !get().dragActive) remember(get, set, "nudge");
    set((s) => ({ nodes: applyNodeChanges(changes, s.nodes), dirty: s.dirty || edits }));
  },

  onEdgesChange: (all: EdgeChange[]) => {
    const changes = get().readOnly ? all.filter((c) => c.type === "select") : all;
    if (changes.length === 0) return;
    const edits = changes.some((c) => CONTENT_CHANGES.has(c.type));
    set((s) => ({ edges: applyEdgeChanges(changes, s.edges), dirty: s.dirty || edits }));
  },

  connect: (conn) => {
    const { nodes, edges, catalogue } = get();
    const check = checkConnection(conn, nodes, edges, catalogue);
    if (!check.ok) return check;
    remember(get, set);
    const id = freshId("edge", new Set(edges.map((e) => e.id)));
    const edge = {
      id,
      source: conn.source,
      target: conn.target,
      sourceHandle: conn.sourceHandle ?? null,
      targetHandle: conn.targetHandle ?? null,
    };
    set({ edges: [...edges, edge], dirty: true });
    return check;
  },

  addNode: (nodeType, position) => {
    const { nodes, catalogue } = get();
    const spec = catalogue.get(nodeType);
    if (!spec) return null;
    remember(get, set);
    const id = freshId("node", new Set(nodes.map((n) => n.id)));
    const node: BasedNode = {
      id,
      type: "basedNode",
      position,
      selected: true,
      data: { label: uniqueLabel(spec.label, nodes), nodeType, params: defaultParams(spec.paramsSchema) },
    };
    set({ nodes: [...nodes.map(deselect), node], dirty: true });
    return id;
  },

  addSticky: (position) => {
    remember(get, set);
    const id = freshId("note", new Set(get().nodes.map((n) => n.id)));
    const note: WfNode = {
      id,
      type: "stickyNote",
      position,
      ...STICKY_SIZE,
      data: { label: "Note", nodeType: STICKY_NODE_TYPE, text: "" },
    };
    set((s) => ({ nodes: [...s.nodes, note], dirty: true }));
  },

  updateParams: (id, patch, remove = []) => {
    remember(get, set, `params:${id}:${Object.keys(patch).concat(remove).join(",")}`);
    set((s) => ({
      dirty: true,
      nodes: mapNode(s.nodes, id, (n) => {
        if (!isBasedNode(n)) return n;
        const params = { ...n.data.params, ...patch };
        for (const key of remove) delete params[key];
        return { ...n, data: { ...n.data, params } };
      }),
    }));
  },

  updateData: (id, patch) => {
    remember(get, set, `data:${id}:${Object.keys(patch).join(",")}`);
    set((s) => ({
      dirty: true,
      nodes: mapNode(s.nodes, id, (n) => ({ ...n, data: { ...n.data, ...patch } }) as WfNode),
    }));
  },

  beginDrag: () => {
    remember(get, set);
    set({ dragActive: true });
  },

  endDrag: () => set({ dragActive: false }),

  deleteSelected: () => {
    const { nodes, edges } = get();
    const gone = new Set(nodes.filter((n) => n.selected && n.deletable !== false).map((n) => n.id));
    const keptEdges = edges.filter((e) => !e.selected && !gone.has(e.source) && !gone.has(e.target));
    if (gone.size === 0 && keptEdges.length === edges.length) return;
    remember(get, set);
    set({ nodes: nodes.filter((n) => !gone.has(n.id)), edges: keptEdges, dirty: true });
  },

  duplicateSelected: () => {
    const copied = copySelection(get().nodes, get().edges);
    if (copied) get().paste(copied, PASTE_OFFSET);
  },

  selectAll: () =>
    set((s) => ({
      nodes: s.nodes.map((n) => (n.selected ? n : { ...n, selected: true })),
      edges: s.edges.map((e) => (e.selected ? e : { ...e, selected: true })),
    })),

  paste: (graph, offset) => {
    const { nodes, edges } = get();
    const taken = { nodes: new Set(nodes.map((n) => n.id)), edges: new Set(edges.map((e) => e.id)) };
    const fresh = withFreshIds(graph, taken, offset);
    remember(get, set);
    const labelled: WfNode[] = [];
    for (const n of fresh.nodes) {
      labelled.push({ ...n, data: { ...n.data, label: uniqueLabel(n.data.label, [...nodes, ...labelled]) } } as WfNode);
    }
    set({
      nodes: [...nodes.map(deselect), ...labelled],
      edges: [...edges.map((e) => (e.selected ? { ...e, selected: false } : e)), ...fresh.edges],
      dirty: true,
    });
  },

  undo: () => {
    const result = undo(get().history, { nodes: get().nodes, edges: get().edges });
    if (result) set({ ...result.graph, history: result.history, lastRecord: null, dirty: true });
  },

  redo: () => {
    const result = redo(get().history, { nodes: get().nodes, edges: get().edges });
    if (result) set({ ...result.graph, history: result.history, lastRecord: null, dirty: true });
  },

  // dagre is loaded on first use: it is a third of the bundle and most sessions never need it.
  autoLayout: async () => {
    const { layoutGraph } = await import("../graph/layout");
    remember(get, set);
    set((s) => ({ nodes: layoutGraph({ nodes: s.nodes, edges: s.edges }), dirty: true }));
  },

  replaceGraph: (graph: Graph, options = {}) => {
    if (options.record) remember(get, set);
    set({ nodes: graph.nodes, edges: graph.edges, dirty: options.dirty ?? false });
  },

  markSaved: () => set({ dirty: false }),
});

function deselect<T extends WfNode>(n: T): T {
  return n.selected ? { ...n, selected: false } : n;
}
