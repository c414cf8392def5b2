import { describe, expect, it } from "vitest";
import { catalogue, edge, node } from "../test/fixtures";
import { checkConnection, compatible, upstreamOf } from "./connection";
import type { WfNode } from "./types";

const nodes: WfNode[] = [
  node("prompt", "input:text"),
  node("num", "input:number"),
  node("flux", "generate:flux_2"),
  node("up", "upscale:crystal_upscaler"),
  node("concat", "utility:prompt_concat"),
  node("out", "output:result"),
];
const conn = (source: string, sourcePort: string, target: string, targetPort: string) => ({
  source,
  target,
  sourceHandle: `out-${sourcePort}`,
  targetHandle: `in-${targetPort}`,
});

describe("compatible", () => {
  it("lets ANY connect to everything in both directions", () => {
    expect(compatible("ANY", "IMAGE")).toBe(true);
    expect(compatible("VIDEO", "ANY")).toBe(true);
  });
  it("lets a TEXT input accept NUMBER but not the reverse", () => {
    expect(compatible("NUMBER", "TEXT")).toBe(true);
    expect(compatible("TEXT", "NUMBER")).toBe(false);
  });
  it("otherwise requires equal types", () => {
    expect(compatible("IMAGE", "IMAGE")).toBe(true);
    expect(compatible("IMAGE", "TEXT")).toBe(false);
  });
});

describe("checkConnection", () => {
  it("accepts a text output into a text input", () => {
    expect(checkConnection(conn("prompt", "text", "flux", "prompt"), nodes, [], catalogue)).toEqual({ ok: true });
  });
  it("accepts an output alias handle", () => {
    expect(checkConnection(conn("prompt", "prompt", "flux", "prompt"), nodes, [], catalogue).ok).toBe(true);
  });
  it("accepts a number into a text input", () => {
    expect(checkConnection(conn("num", "value", "flux", "prompt"), nodes, [], catalogue).ok).toBe(true);
  });
  it("refuses an image output into a text-only input with the reason", () => {
    const result = checkConnection(conn("flux", "image", "concat", "texts"), nodes, [], catalogue);
    expect(result).toEqual({ ok: false, reason: "IMAGE output “Image” cannot feed TEXT input “Texts”" });
  });
  it("refuses a self-loop", () => {
    const result = checkConnection(conn("concat", "text", "concat", "texts"), nodes, [], catalogue);
    expect(result.ok).toBe(false);
  });
  it("refuses a second edge into a port that is not multiple", () => {
    const edges = [edge("e1", "prompt", "text", "flux", "prompt")];
    const result = checkConnection(conn("num", "value", "flux", "prompt"), nodes, edges, catalogue);
    expect(result.ok === false && result.reason).toMatch(/takes one connection/);
  });
  it("accepts several edges into a multiple port", () => {
    const edges = [edge("e1", "prompt", "text", "concat", "texts")];
    expect(checkConnection(conn("num", "value", "concat", "texts"), nodes, edges, catalogue).ok).toBe(true);
  });
  it("refuses a connection that closes a cycle", () => {
    const withSecond = [...nodes, node("concat2", "utility:prompt_concat")];
    const edges = [edge("e1", "concat", "text", "concat2", "texts")];
    const result = checkConnection(conn("concat2", "text", "concat", "texts"), withSecond, edges, catalogue);
    expect(result).toEqual({ ok: false, reason: "This connection would create a cycle" });
  });
  it("refuses unknown ports", () => {
    expect(checkConnection(conn("prompt", "nope", "flux", "prompt"), nodes, [], catalogue).ok).toBe(false);
  });
});

describe("upstreamOf", () => {
  it("collects the target and everything it depends on, not what depends on it", () => {
    const edges = [edge("e1", "prompt", "text", "flux", "prompt"), edge("e2", "flux", "image", "up", "image_url")];
    expect([...upstreamOf("flux", edges)].sort()).toEqual(["flux", "prompt"]);
  });
});
