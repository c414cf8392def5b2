import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { Graph } from "../graph/types";
import { createEditorStore } from "../store";
import { fakeEnv } from "../test/fakeEnv";
import { describeFailure, parseSse, placeGenerated, readEvents, requestWorkflow } from "./generate";

const GRAPH: Graph = {
  nodes: [
    {
      id: "n1",
      type: "basedNode",
      position: { x: 0, y: 0 },
      data: { label: "Prompt", nodeType: "input:text", params: { text: "a fox" } },
    },
    {
      id: "n2",
      type: "basedNode",
      position: { x: 340, y: 0 },
      data: { label: "Image", nodeType: "generate:flux_2", params: {} },
    },
  ],
  edges: [{ id: "e1", source: "n1", target: "n2", sourceHandle: "out-text", targetHandle: "in-prompt" }],
};

const frame = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A streamed body that arrives in the given pieces (cut anywhere, even inside a character). */
function body(pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(typeof piece === "string" ? encoder.encode(piece) : piece);
      controller.close();
    },
  });
}

interface Sent {
  url: string;
  init: RequestInit;
}

function fakeFetch(response: Response, sent: Sent[] = []): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    sent.push({ url, init });
    return response;
  }) as unknown as typeof fetch;
}

function streamed(text: string, cut = 7): Response {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += cut) pieces.push(text.slice(i, i + cut));
  return new Response(body(pieces), { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

describe("reading Server-Sent Events", () => {
  it("splits complete frames and keeps the unfinished one for later", () => {
    const { events, rest } = parseSse(
      'event: progress\ndata: {"a":1}\n\n: ping\n\nevent: done\ndata: {}\n\nevent: wor',
    );
    expect(events).toEqual([
      { event: "progress", data: '{"a":1}' },
      { event: "done", data: "{}" },
    ]);
    expect(rest).toBe("event: wor");
  });

  it("reads CRLF line ends, several data lines and the default event name", () => {
    const { events } = parseSse("data: one\r\ndata: two\r\n\r\n");
    expect(events).toEqual([{ event: "message", data: "one\ntwo" }]);
  });

  it("gives every event of a body cut at arbitrary points, in order", async () => {
    const fox = new TextEncoder().encode(frame("progress", { stage: "model", text: "🦊", attempt: 1 }));
    const cut = fox.length - 8; // inside the emoji's bytes
    const events = [];
    for await (const e of readEvents(body([fox.slice(0, cut), fox.slice(cut), "event: done\ndata: {}"])))
      events.push(e);
    expect(events.map((e) => e.event)).toEqual(["progress", "done"]);
    expect(JSON.parse(events[0].data).text).toBe("🦊");
  });
});

describe("generating a workflow", () => {
  it("posts the prompt with the CSRF token, reports progress, and returns the graph", async () => {
    const env = fakeEnv({}, { csrfToken: "tok" });
    const sent: Sent[] = [];
    const text =
      frame("progress", { stage: "asking", text: "Asking gpt-4o-mini…", attempt: 1 }) +
      frame("progress", { stage: "model", text: '{"nodes": ', attempt: 1 }) +
      frame("progress", { stage: "model", text: "[]}", attempt: 1 }) +
      frame("progress", { stage: "valid", text: "The workflow is valid", attempt: 1 }) +
      frame("workflow", GRAPH) +
      frame("done", { modelCalls: 1 });
    const statuses: string[] = [];
    let model = "";
    const graph = await requestWorkflow(
      env,
      "a fox",
      {
        onStatus: (s) => statuses.push(s),
        onModelText: (t) => {
          model += t;
        },
      },
      undefined,
      fakeFetch(streamed(text), sent),
    );

    expect(graph).toEqual(GRAPH);
    expect(statuses).toEqual(["Asking gpt-4o-mini…", "The workflow is valid"]);
    expect(model).toBe('{"nodes": []}');
    expect(sent[0].url).toBe("/api/v1/workflows/generate/stream");
    expect(sent[0].init.method).toBe("POST");
    expect(sent[0].init.credentials).toBe("same-origin");
    expect((sent[0].init.headers as Record<string, string>)["X-CSRFToken"]).toBe("tok");
    expect(JSON.parse(sent[0].init.body as string)).toEqual({ prompt: "a fox" });
  });

  it("rejects with the stream's error event", async () => {
    const text =
      frame("progress", { stage: "repairing", text: "Repairing", attempt: 1 }) +
      frame("error", { error: "No valid workflow came out after 2 repairs", code: "invalid_graph", violations: [] });
    const failure = requestWorkflow(
      fakeEnv({}),
      "a fox",
      { onStatus: () => {}, onModelText: () => {} },
      undefined,
      fakeFetch(streamed(text)),
    );
    await expect(failure).rejects.toMatchObject({
      code: "invalid_graph",
      message: "No valid workflow came out after 2 repairs",
    });
  });

  it("says what was still wrong when the repairs ran out", () => {
    const error = new ApiError(200, {
      error: "No valid workflow came out after 2 repairs",
      code: "invalid_graph",
      violations: [
        { rule: "unknown_port", message: "Edge 'e1': input port 'nothing' does not exist" },
        { rule: "missing_required_input", message: "Node 'Image' needs input 'prompt'" },
      ],
    });
    expect(describeFailure(error)).toBe(
      "No valid workflow came out after 2 repairs: Edge 'e1': input port 'nothing' does not exist (and 1 more)",
    );
    expect(
      describeFailure(new ApiError(409, { error: "No LLM provider is configured", code: "provider_not_configured" })),
    ).toBe("No LLM provider is configured");
  });

  it("rejects with the server's JSON refusal before any stream", async () => {
    const refused = new Response(
      JSON.stringify({ error: "No LLM provider is configured", code: "provider_not_configured" }),
      { status: 409, headers: { "Content-Type": "application/json" } },
    );
    const failure = requestWorkflow(
      fakeEnv({}),
      "a fox",
      { onStatus: () => {}, onModelText: () => {} },
      undefined,
      fakeFetch(refused),
    );
    await expect(failure).rejects.toBeInstanceOf(ApiError);
    await expect(failure).rejects.toMatchObject({ status: 409, code: "provider_not_configured" });
  });

  it("rejects a stream that ends without a workflow", async () => {
    const failure = requestWorkflow(
      fakeEnv({}),
      "a fox",
      { onStatus: () => {}, onModelText: () => {} },
      undefined,
      fakeFetch(streamed(frame("progress", { stage: "asking", text: "…", attempt: 1 }))),
    );
    await expect(failure).rejects.toMatchObject({ code: "incomplete_stream" });
  });
});

describe("placing the generated graph", () => {
  it("fills an empty canvas as unsaved changes, one undo step", () => {
    const store = createEditorStore();
    placeGenerated(store, GRAPH);
    const state = store.getState();
    expect(state.nodes.map((n) => n.id)).toEqual(["n1", "n2"]);
    expect(state.edges).toEqual(GRAPH.edges);
    expect(state.dirty).toBe(true);
    state.undo();
    expect(store.getState().nodes).toEqual([]);
  });

  it("lands beside nodes that appeared meanwhile, with fresh ids", () => {
    const store = createEditorStore();
    store.getState().replaceGraph({ nodes: [GRAPH.nodes[0]], edges: [] });
    placeGenerated(store, GRAPH);
    const { nodes, edges } = store.getState();
    expect(nodes).toHaveLength(3);
    expect(new Set(nodes.map((n) => n.id)).size).toBe(3);
    expect(edges).toHaveLength(1);
    expect(nodes.map((n) => n.id)).toContain(edges[0].source);
  });
});
