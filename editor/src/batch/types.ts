/**
 * The shapes of the batches API (docs/api.md "Batches"), declared here until the generated API
 * types (src/api/openapi.ts) include them.
 */

export type BatchStatus = "RUNNING" | "COMPLETED" | "CANCELLED";
export type RowStatus = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";

export interface BatchCreated {
  batchId: string;
  workflowId: string;
  total: number;
  status: BatchStatus;
}

export interface RowOutput {
  nodeId: string;
  label: string;
  urls: string[];
  texts: string[];
}

export interface BatchRow {
  /** The row's number, from 1. */
  index: number;
  inputs: Record<string, unknown>;
  executionId: string | null;
  status: RowStatus;
  error: string | null;
  outputs: RowOutput[];
}

export interface BatchOut {
  batchId: string;
  workflowId: string;
  status: BatchStatus;
  total: number;
  concurrency: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  creditsUsed: number;
  createdAt: string | null;
  finishedAt: string | null;
  rows: BatchRow[];
  nextCursor: string | null;
}

export interface EstimateOut {
  workflowId: string;
  estimatedCredits: number;
  availableCredits: number;
  sufficient: boolean;
}
