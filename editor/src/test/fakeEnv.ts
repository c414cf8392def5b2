/** An EditorEnv whose API answers from a table of "METHOD path" → body (or an ApiError), and
 * records what was asked. For the actions' unit tests; no network. */
import { ApiClient } from "../api/client";
import { readConfig } from "../config";
import type { EditorEnv } from "../env";
import type { LiveRun } from "../run/live";

export interface Call {
  method: string;
  path: string;
  body: unknown;
}

export function fakeEnv(
  answers: Record<string, unknown>,
  config: Record<string, unknown> = {},
): EditorEnv & { calls: Call[] } {
  const calls: Call[] = [];
  const api = new ApiClient("/api/v1", "csrf");
  api.request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    calls.push({ method, path, body });
    const key = `${method} ${path}`;
    if (!(key in answers)) throw new Error(`unexpected request ${key}`);
    const answer = answers[key];
    if (answer instanceof Error) throw answer;
    return answer as T;
  };
  return { api, config: readConfig({ workflowId: "w1", ...config }), live: {} as LiveRun, calls };
}
