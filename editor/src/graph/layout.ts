/**
 * Auto-layout: each connected part of the graph in left-to-right layers (dagre, sized by each
 * node's measured box), then the parts packed in rows, so unconnected nodes make a grid rather
 * than one long column. No two nodes ever overlap.
 */
import dagre from "@dagrejs/dagre";
import { NODE_GAP, sizeOf } from "./placement";
import type { Graph, WfEdge, WfNode } from "./types";

const MARGIN = 20;
/** Rows of parts wrap at this width, or at the widest part if that is wider. */
const ROW_WIDTH = 1400;

interface Part {
  nodes: WfNode[];
  width: number;
  height: number;
}

export function layoutGraph(graph: Graph): WfNode[] {
  const parts = componentsOf(graph).map((nodes) => layoutPart(nodes, graph.edges));
  const placed = new Map<string, WfNode>();
  const rowWidth = Math.max(ROW_WIDTH, ...parts.map((p) => p.width));
  let x = MARGIN;
  let y = MARGIN;
  let rowHeight = 0;
  for (const part of parts) {
    if (x > MARGIN && x + part.width > rowWidth) {
      x = MARGIN;
      y += rowHeight + NODE_GAP * 2;
      rowHeight = 0;
    }
    for (const n of part.nodes) placed.set(n.id, { ...n, position: { x: n.position.x + x, y: n.position.y + y } });
    x += part.width + NODE_GAP * 2;
    rowHeight = Math.max(rowHeight, part.height);
  }
  return graph.nodes.map((n) => placed.get(n.id) ?? n);
}

/** One part laid out with dagre, its box's top-left corner at (0, 0). */
function layoutPart(nodes: WfNode[], edges: readonly WfEdge[]): Part {
  const ids = new Set(nodes.map((n) => n.id));
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, sizeOf(n));
  for (const e of edges) if (ids.has(e.source) && ids.has(e.target)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  // dagre answers centres; React Flow positions are top-left corners.
  const laid = nodes.map((n) => {
    const { x, y } = g.node(n.id);
    const { width, height } = sizeOf(n);
    return { ...n, position: { x: Math.round(x - width / 2), y: Math.round(y - height / 2) } };
  });
  const left = Math.min(...laid.map((n) => n.position.x));
  const top = Math.min(...laid.map((n) => n.position.y));
  const shifted = laid.map((n) => ({ ...n, position: { x: n.position.x - left, y: n.position.y - top } }));
  return {
    nodes: shifted,
    width: Math.max(...shifted.map((n) => n.position.x + sizeOf(n).width)),
    height: Math.max(...shifted.map((n) => n.position.y + sizeOf(n).height)),
  };
}

/** The graph's connected parts (edges taken as undirected), biggest first, ties in node order. */
function componentsOf(graph: Graph): WfNode[][] {
  const parent = new Map(graph.nodes.map((n) => [n.id, n.id]));
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root) as string;
    parent.set(id, root);
    return root;
  };
  for (const e of graph.edges) {
    if (parent.has(e.source) && parent.has(e.target)) parent.set(find(e.source), find(e.target));
  }
  const parts = new Map<string, WfNode[]>();
  for (const n of graph.nodes) {
    const root = find(n.id);
    const part = parts.get(root);
    if (part) part.push(n);
    else parts.set(root, [n]);
  }
  return [...parts.values()].sort((a, b) => b.length - a.length);
}
