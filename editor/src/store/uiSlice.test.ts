import { describe, expect, it } from "vitest";
import { createEditorStore } from "./index";
import { issuesFrom, shortMessage } from "./uiSlice";

describe("lint issues", () => {
  it("files violations under the node or edge at fault", () => {
    const issues = issuesFrom([
      { rule: "type_mismatch", message: "IMAGE cannot feed TEXT", edgeId: "e1" },
      { rule: "missing_required_input", message: "Node 'Flux' (n1) needs input 'prompt'", nodeId: "n1" },
      { rule: "empty_graph", message: "The graph is empty" },
    ]);
    expect(issues).toEqual({ nodes: { n1: ["Needs input 'prompt'"] }, edges: { e1: ["IMAGE cannot feed TEXT"] } });
  });
  it("drops the node prefix, keeping other messages as they are", () => {
    expect(shortMessage("Node 'A' (x-1): num_images: too big")).toBe("Num_images: too big");
    expect(shortMessage("Something else")).toBe("Something else");
  });
});

describe("renaming", () => {
  it("is an unsaved change of the workflow's name", () => {
    const store = createEditorStore();
    store.getState().rename("Fox pipeline");
    expect(store.getState().workflow.name).toBe("Fox pipeline");
    expect(store.getState().dirty).toBe(true);
  });
});
