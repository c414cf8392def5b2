/** The Batch dialog's calls: estimate, create (the CSV as a multipart file), follow, cancel. */
import { ApiError, type ErrorBody } from "../api/client";
import type { EditorEnv } from "../env";
import type { BatchCreated, BatchOut, EstimateOut } from "./types";

/** The batch's rows shown in the dialog (the CSV download has them all). */
export const ROWS_SHOWN = 200;

export function estimateRun(env: EditorEnv, workflowId: string): Promise<EstimateOut> {
  return env.api.post<EstimateOut>(`/workflows/${workflowId}/estimate`, {});
}

/** POST /workflows/{id}/batches with the CSV text as the `file` of a multipart form: the server
 * reads it with the same rules as an uploaded file, and a CSV may exceed a JSON body's limit. */
export async function createBatch(
  env: EditorEnv,
  workflowId: string,
  csv: string,
  concurrency: number,
): Promise<BatchCreated> {
  const form = new FormData();
  form.append("file", new Blob([csv], { type: "text/csv" }), "rows.csv");
  form.append("concurrency", String(concurrency));
  let response: Response;
  try {
    response = await fetch(`${env.config.apiBase}/workflows/${workflowId}/batches`, {
      method: "POST",
      credentials: "same-origin",
      body: form,
      headers: { Accept: "application/json", "X-CSRFToken": env.config.csrfToken },
    });
  } catch {
    throw new ApiError(0, { error: "The server could not be reached", code: "network_error" });
  }
  const body: unknown = await response.json().catch(() => null);
  if (response.ok) return body as BatchCreated;
  throw new ApiError(
    response.status,
    isError(body) ? body : { error: `Request failed (${response.status})`, code: "http_error" },
  );
}

export function getBatch(env: EditorEnv, batchId: string): Promise<BatchOut> {
  return env.api.get<BatchOut>(`/batches/${batchId}?limit=${ROWS_SHOWN}`);
}

export function cancelBatch(env: EditorEnv, batchId: string): Promise<unknown> {
  return env.api.post(`/batches/${batchId}/cancel`);
}

export function resultsUrl(env: EditorEnv, batchId: string, kind: "csv" | "zip"): string {
  return `${env.config.apiBase}/batches/${batchId}/results.${kind}`;
}

function isError(value: unknown): value is ErrorBody {
  return typeof value === "object" && value !== null && typeof (value as ErrorBody).error === "string";
}
