/**
 * Undo/redo as a stack of whole-graph snapshots. Node and edge objects are immutable and shared
 * between snapshots, so a snapshot costs two arrays, not a deep copy.
 */
import type { Graph } from "./types";

export interface History {
  past: Graph[];
  future: Graph[];
}

export const HISTORY_LIMIT = 100;

export const emptyHistory = (): History => ({ past: [], future: [] });

/** Remember `current` as the state to return to; a new change forgets the redo branch. */
export function record(history: History, current: Graph, limit = HISTORY_LIMIT): History {
  const past = [...history.past, strip(current)];
  return { past: past.length > limit ? past.slice(past.length - limit) : past, future: [] };
}

export function undo(history: History, current: Graph): { history: History; graph: Graph } | null {
  const previous = history.past[history.past.length - 1];
  if (!previous) return null;
  return {
    history: { past: history.past.slice(0, -1), future: [strip(current), ...history.future] },
    graph: previous,
  };
}

export function redo(history: History, current: Graph): { history: History; graph: Graph } | null {
  const [next, ...rest] = history.future;
  if (!next) return null;
  return { history: { past: [...history.past, strip(current)], future: rest }, graph: next };
}

/** Selection and drag flags are not part of what undo restores. */
function strip(graph: Graph): Graph {
  return {
    nodes: graph.nodes.map((n) => (n.selected || n.dragging ? { ...n, selected: false, dragging: false } : n)),
    edges: graph.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
  };
}
