/**
 * "Describe it": a workflow built from a sentence by the team's LLM. POST
 * /workflows/generate/stream answers Server-Sent Events, read here as they arrive: `progress`
 * ({stage, text, attempt}; stage "model" carries the model's new text), then `workflow`
 * ({nodes, edges}) and `done`, or `error` ({error, code}). The graph lands on the canvas as
 * unsaved changes (one undo step); nothing is saved until the person saves.
 */
import { ApiError, type ErrorBody } from "../api/client";
import type { EditorEnv } from "../env";
import { parseGraph } from "../graph/clipboard";
import type { Graph } from "../graph/types";
import type { EditorStore } from "../store";
import type { Violation } from "../api/types";
import { describeViolations, explain } from "./errors";

export const MAX_PROMPT_CHARS = 2000;
const PLACE_OFFSET = { x: 40, y: 40 };

export interface SseEvent {
  event: string;
  data: string;
}

export interface Progress {
  stage: string;
  text: string;
  attempt: number;
}

/** What the stream said, as it says it. */
export interface GenerateListener {
  onStatus: (text: string) => void;
  /** The model's new text (appended to what came before in the same attempt). */
  onModelText: (text: string, attempt: number) => void;
}

type Fetch = typeof fetch;

/**
 * Complete SSE frames out of `buffer` (a frame ends at a blank line), and what is left over to
 * be completed by the next chunk. Comments (":") are skipped; several data lines join with "\n".
 */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const normalised = buffer.replace(/\r\n?/g, "\n");
  const frames = normalised.split("\n\n");
  const rest = frames.pop() ?? "";
  const events: SseEvent[] = [];
  for (const frame of frames) {
    let event = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** Every event of a streamed body, in order, as soon as each is complete. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const parsed = parseSse(done ? `${buffer}\n\n` : buffer);
      buffer = parsed.rest;
      yield* parsed.events;
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Ask for a workflow and follow its stream; resolves with the graph, or rejects with an
 * ApiError: the server's refusal (400, 403, 409, 429), or the stream's `error` event.
 */
export async function requestWorkflow(
  env: EditorEnv,
  prompt: string,
  listener: GenerateListener,
  signal?: AbortSignal,
  fetchImpl: Fetch = fetch,
): Promise<Graph> {
  const response = await post(env, prompt, signal, fetchImpl);
  if (!response.ok || !response.body) throw await refusal(response);
  let graph: Graph | null = null;
  for await (const { event, data } of readEvents(response.body)) {
    const payload = safeParse(data);
    if (event === "progress" && isProgress(payload)) {
      if (payload.stage === "model") listener.onModelText(payload.text, payload.attempt);
      else listener.onStatus(payload.text);
    } else if (event === "workflow") {
      graph = parseGraph(payload);
    } else if (event === "error") {
      throw new ApiError(200, errorBody(payload, "The workflow could not be generated"));
    } else if (event === "done") {
      break;
    }
  }
  if (!graph || graph.nodes.length === 0) {
    throw new ApiError(200, { error: "The stream ended without a workflow", code: "incomplete_stream" });
  }
  return graph;
}

async function post(
  env: EditorEnv,
  prompt: string,
  signal: AbortSignal | undefined,
  fetchImpl: Fetch,
): Promise<Response> {
  try {
    return await fetchImpl(`${env.config.apiBase}/workflows/generate/stream`, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "text/event-stream", "Content-Type": "application/json", "X-CSRFToken": env.config.csrfToken },
      body: JSON.stringify({ prompt }),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, { error: "The server could not be reached", code: "network_error" });
  }
}

async function refusal(response: Response): Promise<ApiError> {
  const body = safeParse(await response.text());
  return new ApiError(response.status, errorBody(body, `Request failed (${response.status})`));
}

/**
 * The generated graph on the canvas as unsaved changes, one undo step: the whole canvas when
 * it is empty (its ids and layout kept), else beside what is there (fresh ids, selected).
 */
export function placeGenerated(store: EditorStore, graph: Graph): void {
  const state = store.getState();
  if (state.nodes.length === 0) state.replaceGraph(graph, { record: true, dirty: true });
  else state.paste(graph, PLACE_OFFSET);
  store.getState().setIssues([]);
}

/** Why no workflow came: the server's message, with what was still wrong after the repairs. */
export function describeFailure(error: unknown): string {
  if (error instanceof ApiError && error.code === "invalid_graph") {
    const violations = (error.body.violations ?? []) as Violation[];
    return violations.length ? `${error.body.error}: ${describeViolations(violations)}` : error.body.error;
  }
  return explain(error).message;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isProgress(value: unknown): value is Progress {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p.stage === "string" && typeof p.text === "string";
}

function errorBody(value: unknown, fallback: string): ErrorBody {
  if (typeof value === "object" && value !== null && typeof (value as ErrorBody).error === "string") {
    return value as ErrorBody;
  }
  return { error: fallback, code: "http_error" };
}
