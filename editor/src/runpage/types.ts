/**
 * Shapes of the run page's endpoints. The generated OpenAPI types do not have the re-run
 * endpoint yet (they are regenerated with `make api-snapshot`), so what it needs is declared
 * here, over the generated node state where that exists.
 */
import type { ExecutionPoll, NodeState } from "../api/types";

/** One attempt of a node (details' `attemptsLog`). */
export interface Attempt {
  attempt: number;
  startedAt?: string | null;
  finishedAt?: string | null;
  error?: string | null;
  httpStatus?: number | null;
}

/** A node state of `GET /workflows/executions/{id}`: the poll's, plus what it was given. */
export type NodeDetail = NodeState & {
  input?: Record<string, unknown> | null;
  attemptsLog?: Attempt[];
  cacheKey?: string | null;
};

/** `GET /workflows/executions/{id}` as the run page reads it. */
export type ExecutionDetails = Omit<ExecutionPoll, "nodeStates"> & {
  nodeStates: NodeDetail[];
  inputs?: Record<string, unknown>;
};

/** `POST /workflows/executions/{id}/rerun`. */
export interface RerunIn {
  fromFailed: boolean;
}

export interface RerunOut {
  executionId: string;
  workflowId: string;
  status: string;
}
