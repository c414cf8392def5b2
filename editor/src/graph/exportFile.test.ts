import { describe, expect, it } from "vitest";
import { edge, node } from "../test/fixtures";
import { exportFileName, exportPayload, readImport } from "./exportFile";

const workflow = { name: "Fox / heron", description: "d", tags: ["t"], version: 4 };

describe("export and import JSON", () => {
  it("exports the saved graph with the version it was saved as", () => {
    const a = { ...node("a", "input:text"), selected: true, measured: { width: 260, height: 90 } };
    const payload = exportPayload(
      workflow,
      [a, node("b", "generate:flux_2", 300)],
      [edge("e", "a", "text", "b", "prompt")],
    );
    expect(payload.version).toBe(4);
    expect(payload.name).toBe("Fox / heron");
    expect(payload.nodes[0]).toEqual(node("a", "input:text"));
    expect(exportFileName(workflow.name, 4)).toBe("Fox_heron-v4.json");
    expect(exportFileName("", null)).toBe("workflow.json");
  });

  it("imports an exported file back, graph and version", () => {
    const payload = exportPayload(workflow, [node("a", "input:text")], []);
    const read = readImport(JSON.stringify(payload));
    expect(read?.version).toBe(4);
    expect(read?.graph.nodes.map((n) => n.id)).toEqual(["a"]);
  });

  it("imports a bare graph (an older export, the API's JSON) and refuses what is not one", () => {
    expect(readImport(JSON.stringify({ nodes: [node("a", "input:text")], edges: [] }))?.version).toBeNull();
    expect(readImport("{nope")).toBeNull();
    expect(readImport(JSON.stringify({ nodes: [], edges: [] }))).toBeNull();
  });
});
