/** What the Batch dialog's progress bar and row table show. Pure, for the tests. */
import type { BatchOut } from "./types";

export interface Segment {
  kind: "completed" | "failed" | "running" | "cancelled";
  count: number;
  /** Percent of the total, for the bar's width. */
  percent: number;
}

export function segments(batch: Pick<BatchOut, "total" | "completed" | "failed" | "running" | "cancelled">): Segment[] {
  const total = Math.max(batch.total, 1);
  return (["completed", "failed", "running", "cancelled"] as const)
    .map((kind) => ({ kind, count: batch[kind], percent: (100 * batch[kind]) / total }))
    .filter((s) => s.count > 0);
}

/** "12 / 20 done · 1 failed · 5 running" */
export function progressText(
  batch: Pick<BatchOut, "total" | "completed" | "failed" | "running" | "cancelled">,
): string {
  const parts = [`${batch.completed + batch.failed} / ${batch.total} done`];
  if (batch.failed) parts.push(`${batch.failed} failed`);
  if (batch.running) parts.push(`${batch.running} running`);
  if (batch.cancelled) parts.push(`${batch.cancelled} cancelled`);
  return parts.join(" · ");
}

/** Whether nothing more will change: the dialog stops following the batch. */
export function isSettled(batch: Pick<BatchOut, "status" | "running">): boolean {
  return batch.status !== "RUNNING" && batch.running === 0;
}

const IMAGE = /\.(png|jpe?g|webp|gif|avif)(\?|#|$)/i;
const VIDEO = /\.(mp4|webm|mov)(\?|#|$)/i;

export function mediaKind(url: string): "image" | "video" | "link" {
  const path = url.split("?")[0];
  if (IMAGE.test(path)) return "image";
  if (VIDEO.test(path)) return "video";
  return "link";
}

/** The estimate for the batch: one run's credits times the rows. */
export function batchCredits(perRun: number, rows: number): number {
  return Math.round(perRun * rows * 10000) / 10000;
}
