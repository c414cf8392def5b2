/**
 * Follows one execution live: the WebSocket `/ws/executions/<id>/` (snapshot, then node and
 * execution events, each with a sequence number; between them, unnumbered `node.stream` messages
 * with an LLM node's text so far), reconnecting with `?after=<seq>` so nothing is
 * missed or applied twice. If the socket keeps failing, it falls back to polling the REST API.
 */
import { reportError } from "../actions/errors";
import { ApiError, type ApiClient } from "../api/client";
import type { ExecutionPoll, ExecutionUpdate, NodeState } from "../api/types";
import type { EditorStore } from "../store";

type Message =
  | { type: "snapshot"; seq: number; data: ExecutionPoll }
  | { type: "node"; seq: number; data: NodeState }
  | { type: "execution"; seq: number; data: ExecutionUpdate }
  | { type: "node.stream"; data: { nodeId: string; attempt: number; text: string } };

const MAX_SOCKET_FAILURES = 3;
const POLL_MS = 1000;
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_NOT_FOUND = 4404;

export const isTerminal = (status: string | null): boolean =>
  status === "COMPLETED" || status === "FAILED" || status === "CANCELLED";

export class LiveRun {
  private socket: WebSocket | null = null;
  private executionId: string | null = null;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly store: EditorStore,
    private readonly api: ApiClient,
  ) {}

  follow(executionId: string): void {
    this.stop();
    this.executionId = executionId;
    this.failures = 0;
    this.open();
  }

  stop(): void {
    this.executionId = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private open(): void {
    const id = this.executionId;
    if (!id) return;
    const { seq } = this.store.getState().run;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const query = seq > 0 ? `?after=${seq}` : "";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/executions/${id}/${query}`);
    this.socket = socket;
    socket.onmessage = (event) => this.receive(event.data);
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  private receive(raw: unknown): void {
    let message: Message;
    try {
      message = JSON.parse(String(raw)) as Message;
    } catch {
      return;
    }
    this.failures = 0;
    const state = this.store.getState();
    if (message.type === "snapshot") state.applySnapshot(message.data, message.seq);
    else if (message.type === "node") state.applyNodeState(message.data, message.seq);
    else if (message.type === "execution") state.applyExecution(message.data, message.seq);
    else if (message.type === "node.stream") state.applyStream(message.data.nodeId, message.data.text);
    if (isTerminal(this.store.getState().run.status)) void this.finish();
  }

  private closed(socket: WebSocket, code: number): void {
    if (socket !== this.socket || !this.executionId) return;
    this.socket = null;
    // The server refused us (logged out, or not our execution): retrying cannot help.
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_NOT_FOUND) {
      this.stop();
      this.store
        .getState()
        .toast(
          "error",
          code === CLOSE_UNAUTHENTICATED
            ? "Live status stopped: you are logged out. Log in again and reload."
            : "Live status stopped: this run is not visible to you any more.",
        );
      return;
    }
    this.failures += 1;
    const delay = Math.min(500 * 2 ** this.failures, 5000);
    const next = this.failures > MAX_SOCKET_FAILURES ? () => this.poll() : () => this.open();
    this.timer = setTimeout(next, delay);
  }

  private async poll(): Promise<void> {
    const id = this.executionId;
    if (!id) return;
    try {
      const poll = await this.api.get<ExecutionPoll>(`/workflows/executions/${id}/poll`);
      if (id !== this.executionId) return;
      this.store.getState().applySnapshot(poll, this.store.getState().run.seq);
      if (isTerminal(poll.status)) return this.finish();
    } catch (error) {
      // A transient failure (the network, a 429, a 5xx): the next poll tries again. A refusal
      // that retrying cannot change ends the polling, and says so.
      if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        this.stop();
        reportError(this.store, "Live status stopped", error);
        return;
      }
    }
    this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }

  /** The terminal event arrived: the final outputs are in the store, the socket can go. */
  private async finish(): Promise<void> {
    const id = this.executionId;
    this.stop();
    if (!id) return;
    try {
      const poll = await this.api.get<ExecutionPoll>(`/workflows/executions/${id}/poll`);
      if (this.store.getState().run.executionId === id) {
        this.store.getState().applySnapshot(poll, this.store.getState().run.seq);
      }
    } catch {
      // The live events already carried the final state; the refresh is a nicety.
    }
  }
}
