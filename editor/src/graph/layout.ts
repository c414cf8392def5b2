/** Auto-layout: left-to-right layers with dagre, sized by each node's measured box. */
import dagre from "@dagrejs/dagre";
import type { Graph, WfNode } from "./types";

const DEFAULT_SIZE = { width: 260, height: 150 };

export function layoutGraph(graph: Graph): WfNode[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, sizeOf(n));
  for (const e of graph.edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return graph.nodes.map((n) => {
    const placed = g.node(n.id);
    const { width, height } = sizeOf(n);
    // dagre answers centres; React Flow positions are top-left corners.
    return { ...n, position: { x: Math.round(placed.x - width / 2), y: Math.round(placed.y - height / 2) } };
  });
}

function sizeOf(n: WfNode): { width: number; height: number } {
  return {
    width: n.measured?.width ?? n.width ?? DEFAULT_SIZE.width,
    height: n.measured?.height ?? n.height ?? DEFAULT_SIZE.height,
  };
}
