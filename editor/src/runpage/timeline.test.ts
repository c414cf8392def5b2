import { describe, expect, it } from "vitest";
import type { NodeState } from "../api/types";
import { actionsFor, barOf, byStart, formatDuration, preview, spanOf } from "./timeline";

const T0 = Date.parse("2026-12-01T10:00:00.000Z");
const iso = (offsetMs: number) => new Date(T0 + offsetMs).toISOString();
const node = (nodeId: string, status: NodeState["status"], from?: number, to?: number): NodeState => ({
  nodeId,
  status,
  startedAt: from === undefined ? null : iso(from),
  finishedAt: to === undefined ? null : iso(to),
});

describe("the run page's timeline", () => {
  it("places each bar by its start and length within the run", () => {
    const span = spanOf(iso(0), iso(10_000), [], T0 + 99_000);
    expect(barOf(node("a", "COMPLETED", 0, 5_000), span, 0)).toEqual({ left: 0, width: 50 });
    expect(barOf(node("b", "FAILED", 5_000, 10_000), span, 0)).toEqual({ left: 50, width: 50 });
  });

  it("gives an instant node a sliver and no bar to a node that never started", () => {
    const span = spanOf(iso(0), iso(10_000), [], 0);
    expect(barOf(node("cached", "COMPLETED", 0, 0), span, 0)?.width).toBeGreaterThan(0);
    expect(barOf(node("p", "PENDING"), span, 0)).toBeNull();
  });

  it("runs a running node's bar, and the span, up to now", () => {
    const nodes = [node("a", "RUNNING", 2_000)];
    const span = spanOf(iso(0), null, nodes, T0 + 4_000);
    expect(span).toEqual({ start: T0, end: T0 + 4_000 });
    expect(barOf(nodes[0]!, span, T0 + 4_000)).toEqual({ left: 50, width: 50 });
  });

  it("never lets a bar overflow the track", () => {
    const span = { start: T0, end: T0 + 1_000 };
    const bar = barOf(node("late", "COMPLETED", 900, 5_000), span, 0)!;
    expect(bar.left + bar.width).toBeLessThanOrEqual(100);
  });

  it("orders nodes by when they started, the unstarted last in graph order", () => {
    const nodes = [
      node("c", "PENDING"),
      node("b", "COMPLETED", 2_000, 3_000),
      node("a", "COMPLETED", 0, 1_000),
      node("d", "CANCELLED"),
    ];
    expect(byStart(nodes, ["a", "b", "d", "c"]).map((n) => n.nodeId)).toEqual(["a", "b", "d", "c"]);
  });
});

describe("the run page's words", () => {
  it("reads durations like a person would", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(420)).toBe("420 ms");
    expect(formatDuration(2_345)).toBe("2.3 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
  });

  it("offers retry from failed only for a failed or cancelled run, cancel only while running", () => {
    expect(actionsFor("FAILED")).toEqual({ rerun: true, retry: true, cancel: false });
    expect(actionsFor("CANCELLED").retry).toBe(true);
    expect(actionsFor("COMPLETED")).toEqual({ rerun: true, retry: false, cancel: false });
    expect(actionsFor("RUNNING")).toEqual({ rerun: true, retry: false, cancel: true });
    expect(actionsFor(null).rerun).toBe(false);
  });

  it("cuts a long input", () => {
    expect(preview({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(preview({ text: "x".repeat(5000) }, 100)).toHaveLength(102);
  });
});
