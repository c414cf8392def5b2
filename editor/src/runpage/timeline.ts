/**
 * The run page's arithmetic, pure: where each node's bar sits on the timeline, how a duration
 * reads, which actions a run allows.
 */
import type { NodeState } from "../api/types";

export interface Bar {
  /** Percent of the run's span from its start to the bar's start. */
  left: number;
  /** Percent of the span; a node that ran for an instant still gets a visible sliver. */
  width: number;
}

const MIN_WIDTH = 0.8;

const at = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms;
};

/** The span the timeline shows: the run's start to its end (or now, while it runs). */
export function spanOf(
  startTime: string | null,
  endTime: string | null,
  nodes: readonly NodeState[],
  now: number,
): { start: number; end: number } {
  const starts = nodes.map((n) => at(n.startedAt)).filter((v): v is number => v !== null);
  const start = at(startTime) ?? (starts.length ? Math.min(...starts) : now);
  const finishes = nodes
    .map((n) => at(n.finishedAt) ?? (n.status === "RUNNING" ? now : null))
    .filter((v): v is number => v !== null);
  const end = Math.max(at(endTime) ?? (endTime === null && !finishes.length ? now : 0), ...finishes, start + 1);
  return { start, end };
}

/** A node's bar, or null for a node that never started (pending, skipped, cancelled early). */
export function barOf(node: NodeState, span: { start: number; end: number }, now: number): Bar | null {
  const from = at(node.startedAt);
  if (from === null) return null;
  const to = at(node.finishedAt) ?? (node.status === "RUNNING" ? now : from);
  const total = span.end - span.start;
  const left = clamp(((from - span.start) / total) * 100, 0, 100);
  const width = clamp(Math.max(((to - from) / total) * 100, MIN_WIDTH), 0, 100 - left);
  return { left, width };
}

/** Nodes in the order they ran; those that never started last, in the graph's order. */
export function byStart(nodes: readonly NodeState[], order: readonly string[]): NodeState[] {
  const position = new Map(order.map((id, i) => [id, i]));
  return [...nodes].sort(
    (a, b) =>
      (at(a.startedAt) ?? Infinity) - (at(b.startedAt) ?? Infinity) ||
      (position.get(a.nodeId) ?? Infinity) - (position.get(b.nodeId) ?? Infinity),
  );
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** What the run allows now: retry from failed for an ended failed or cancelled run. */
export function actionsFor(status: string | null): { rerun: boolean; retry: boolean; cancel: boolean } {
  return {
    rerun: status !== null,
    retry: status === "FAILED" || status === "CANCELLED",
    cancel: status === "RUNNING",
  };
}

/** A JSON value as a short, readable block (inputs can be large: they are cut). */
export function preview(value: unknown, limit = 2000): string {
  const text = JSON.stringify(value, null, 2) ?? "null";
  return text.length > limit ? `${text.slice(0, limit)}\n…` : text;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
