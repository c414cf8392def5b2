import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { FieldsError, InsufficientCredits, InvalidGraph } from "../api/types";
import { explain } from "./errors";

// Bodies typed by the server's OpenAPI document: if the server changes them, this stops compiling.
const badInput: FieldsError = {
  error: "Invalid value for input 'Prompt' (p): text: String should have at most 100000 characters",
  code: "invalid_request",
  fields: ["inputs.p"],
};
const noCredits: InsufficientCredits = {
  error: "Insufficient credits. Required: 25, Available: 3",
  code: "insufficient_credits",
  insufficientCredits: true,
  requiredCredits: 25,
  availableCredits: 3,
  breakdown: [
    { nodeId: "p", nodeLabel: "Prompt", nodeType: "input:text", credits: 0, billedBy: "platform" },
    { nodeId: "g", nodeLabel: "Generate", nodeType: "generate:nano_banana_pro", credits: 20, billedBy: "platform" },
    { nodeId: "u", nodeLabel: "Upscale", nodeType: "upscale:crystal_upscaler", credits: 5, billedBy: "platform" },
    { nodeId: "t", nodeLabel: "Title", nodeType: "llm:chat", credits: 0.0022, billedBy: "platform" },
  ],
};
const invalidGraph: InvalidGraph = {
  error: "Invalid workflow graph",
  code: "invalid_graph",
  violations: [
    { rule: "missing_required_input", message: "Node 'Generate' (g) needs input 'prompt'", nodeId: "g" },
    { rule: "cycle", message: "The graph has a cycle" },
  ],
};
const limited = { error: "Rate limit exceeded. Try again in 42 seconds.", code: "rate_limited", retryAfter: 42 };

describe("explaining a refused request", () => {
  it("400: the server's message, on the input node at fault", () => {
    const explained = explain(new ApiError(400, badInput));
    expect(explained.message).toBe(badInput.error);
    expect(explained.inputErrors).toEqual({ p: badInput.error });
    expect(explained.issues).toEqual([{ rule: "invalid_request", message: badInput.error, nodeId: "p" }]);
  });

  it("402: the shortfall and what each paid node costs", () => {
    const explained = explain(new ApiError(402, noCredits));
    expect(explained.message).toBe(
      "Insufficient credits. Required: 25, Available: 3 — Generate 20, Upscale 5, Title 0.0022",
    );
    expect(explained.issues).toBeNull();
  });

  it("422: the first violation, every violation marked on its node", () => {
    const explained = explain(new ApiError(422, invalidGraph));
    expect(explained.message).toBe("Node 'Generate' (g) needs input 'prompt' (and 1 more)");
    expect(explained.issues).toEqual(invalidGraph.violations);
  });

  it("429: the server's message with its wait", () => {
    const explained = explain(new ApiError(429, limited));
    expect(explained.message).toBe("Rate limit exceeded. Try again in 42 seconds.");
    expect(explained.issues).toBeNull();
  });

  it("a network failure or a bug: its message", () => {
    expect(explain(new Error("boom")).message).toBe("boom");
  });
});
