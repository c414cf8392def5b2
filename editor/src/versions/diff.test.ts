import { describe, expect, it } from "vitest";
import type { VersionDiff } from "../api/sharing";
import { edge, node } from "../test/fixtures";
import { changeRows, diffMarks, diffSummary, fieldName, formatValue, ghostsOf } from "./diff";

const diff: VersionDiff = {
  nodesAdded: ["up"],
  nodesRemoved: ["old"],
  nodesChanged: [
    {
      nodeId: "prompt",
      changes: {
        "params.text": { from: "a red fox", to: "a blue heron" },
        label: { from: "Prompt", to: "Subject" },
      },
    },
  ],
  edgesAdded: ["flux-up"],
  edgesRemoved: ["old-flux"],
};

describe("a version diff on the canvas", () => {
  it("marks added nodes green, changed amber and removed red", () => {
    expect(diffMarks(diff)).toEqual({ up: "added", prompt: "changed", old: "removed" });
  });

  it("draws removed nodes as ghosts from the old graph, with the removed edges between shown nodes", () => {
    const old = {
      nodes: [node("prompt", "input:text"), node("old", "input:text", 0, 200), node("flux", "generate:flux_2", 300)],
      edges: [
        edge("old-flux", "old", "text", "flux", "prompt"),
        edge("prompt-flux", "prompt", "text", "flux", "prompt"),
      ],
    };
    const current = {
      nodes: [
        node("prompt", "input:text"),
        node("flux", "generate:flux_2", 300),
        node("up", "upscale:crystal_upscaler", 600),
      ],
      edges: [],
    };
    const ghosts = ghostsOf(old, diff, current);
    expect(ghosts.nodes.map((n) => n.id)).toEqual(["old"]);
    expect(ghosts.nodes[0]).toMatchObject({
      draggable: false,
      selectable: false,
      connectable: false,
      deletable: false,
      className: "wf-ghost",
    });
    expect(ghosts.nodes[0].position).toEqual({ x: 0, y: 200 });
    expect(ghosts.edges.map((e) => e.id)).toEqual(["old-flux"]);
  });

  it("leaves out a ghost whose id the canvas has reused, and edges to nodes not shown", () => {
    const old = { nodes: [node("old", "input:text")], edges: [edge("old-flux", "old", "text", "flux", "prompt")] };
    const current = { nodes: [node("old", "generate:flux_2")], edges: [] };
    expect(ghostsOf(old, diff, current)).toEqual({ nodes: [], edges: [] });
  });

  it("lists every changed field with the node's label, from → to", () => {
    const rows = changeRows(diff, (id) => (id === "prompt" ? "Subject" : id));
    expect(rows).toEqual([
      { nodeId: "prompt", label: "Subject", field: "text", from: "a red fox", to: "a blue heron" },
      { nodeId: "prompt", label: "Subject", field: "label", from: "Prompt", to: "Subject" },
    ]);
  });

  it("writes values on one short line", () => {
    expect(formatValue(undefined)).toBe("—");
    expect(formatValue(null)).toBe("—");
    expect(formatValue(3)).toBe("3");
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    const long = formatValue("x".repeat(500));
    expect(long).toHaveLength(80);
    expect(long.endsWith("…")).toBe(true);
    expect(fieldName("nodeType")).toBe("node type");
    expect(fieldName("params.image_size")).toBe("image_size");
  });

  it("sums the diff up, or says nothing differs", () => {
    expect(diffSummary(diff)).toBe("1 added · 1 removed · 1 changed · 2 connections changed");
    expect(diffSummary({ nodesAdded: [], nodesRemoved: [], nodesChanged: [], edgesAdded: [], edgesRemoved: [] })).toBe(
      "No differences",
    );
  });
});
