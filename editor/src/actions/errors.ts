/**
 * Failed requests, told to the person: the server's own message, the credit breakdown of a 402,
 * and the nodes at fault marked on the canvas. No failure in the editor is silent.
 */
import { ApiError } from "../api/client";
import type { Violation } from "../api/types";
import { formatCreditsUsed } from "../components/theme";
import type { EditorStore } from "../store";

export interface Explained {
  message: string;
  /** Problems to show on the nodes at fault (null: leave the canvas' marks alone). */
  issues: Violation[] | null;
  /** Per input node id, the message for the run dialog's field. */
  inputErrors: Record<string, string>;
}

interface BreakdownLine {
  nodeId?: string;
  nodeLabel?: string;
  credits?: number;
}

export function explain(error: unknown): Explained {
  if (!(error instanceof ApiError)) {
    return { message: error instanceof Error ? error.message : String(error), issues: null, inputErrors: {} };
  }
  const { body } = error;
  if (body.code === "invalid_graph") {
    const violations = (body.violations ?? []) as Violation[];
    return { message: describeViolations(violations), issues: violations, inputErrors: {} };
  }
  if (body.code === "insufficient_credits") {
    return {
      message: withBreakdown(body.error, (body.breakdown ?? []) as BreakdownLine[]),
      issues: null,
      inputErrors: {},
    };
  }
  const inputErrors = inputFieldErrors(body.error, body.fields);
  const nodeIds = Object.keys(inputErrors);
  return {
    message: body.error,
    issues: nodeIds.length ? nodeIds.map((nodeId) => ({ rule: body.code, message: body.error, nodeId })) : null,
    inputErrors,
  };
}

export function describeViolations(violations: readonly Violation[]): string {
  if (violations.length === 0) return "the graph is invalid";
  const first = violations[0].message;
  return violations.length === 1 ? first : `${first} (and ${violations.length - 1} more)`;
}

/** "Insufficient credits. Required: 40, Available: 5 — Generate 20, Upscale 20". */
function withBreakdown(message: string, lines: BreakdownLine[]): string {
  const costly = lines
    .filter((l) => (l.credits ?? 0) > 0)
    .map((l) => `${l.nodeLabel ?? l.nodeId ?? "a node"} ${formatCreditsUsed(l.credits)}`);
  return costly.length ? `${message} — ${costly.join(", ")}` : message;
}

/** A 400 naming `inputs.<nodeId>` fields is about those input nodes' values. */
function inputFieldErrors(message: string, fields: unknown): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!Array.isArray(fields)) return errors;
  for (const field of fields) {
    if (typeof field === "string" && field.startsWith("inputs.")) errors[field.slice("inputs.".length)] = message;
  }
  return errors;
}

/** A failed request as a toast; the nodes at fault are marked too. */
export function reportError(store: EditorStore, prefix: string, error: unknown): Explained {
  const explained = explain(error);
  const state = store.getState();
  if (explained.issues) state.setIssues(explained.issues);
  state.toast("error", `${prefix}: ${explained.message}`);
  return explained;
}
