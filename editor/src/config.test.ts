import { describe, expect, it } from "vitest";
import { isReadOnly, may, readConfig, viewGraph } from "./config";

const editorPage = {
  workflowId: "w1",
  csrfToken: "t",
  apiBase: "/api/v1",
  listUrl: "/workflows/",
  team: { id: 1, name: "Acme" },
  mode: "edit",
  permissions: { read: true, modify: true, execute: true, publish_template: true },
  publicTemplates: true,
  publishedTemplateId: "tpl-1",
};

describe("reading the page's editor config", () => {
  it("keeps what the editor page sends", () => {
    const config = readConfig(editorPage);
    expect(config.mode).toBe("edit");
    expect(config.workflowId).toBe("w1");
    expect(config.publicTemplates).toBe(true);
    expect(config.publishedTemplateId).toBe("tpl-1");
    expect(may(config, "publish_template")).toBe(true);
    expect(isReadOnly(config)).toBe(false);
  });

  it("allows everything when the page says nothing about permissions (older pages)", () => {
    const config = readConfig({
      workflowId: null,
      csrfToken: "t",
      apiBase: "/api/v1",
      listUrl: "/workflows/",
      team: null,
    });
    expect(config.mode).toBe("edit");
    expect(may(config, "modify")).toBe(true);
    expect(config.publicTemplates).toBe(false);
    expect(config.publishedTemplateId).toBeNull();
  });

  it("makes a viewer's editor read-only, with no run and no publish", () => {
    const config = readConfig({
      ...editorPage,
      permissions: { read: true, modify: false, execute: false, publish_template: false },
    });
    expect(isReadOnly(config)).toBe(true);
    expect(may(config, "execute")).toBe(false);
    expect(may(config, "publish_template")).toBe(false);
  });

  it("view mode is read-only whatever the permissions say, and shows the page's graph", () => {
    const config = readConfig({
      mode: "view",
      graph: {
        nodes: [
          {
            id: "a",
            type: "basedNode",
            position: { x: 0, y: 0 },
            data: { label: "A", nodeType: "input:text", params: {} },
          },
          { id: "broken", type: "basedNode", data: {} },
        ],
        edges: [{ id: "e", source: "a", target: "gone" }],
      },
      permissions: { modify: true },
    });
    expect(config.apiBase).toBe("/api/v1");
    expect(isReadOnly(config)).toBe(true);
    expect(may(config, "modify")).toBe(false);
    const graph = viewGraph(config);
    expect(graph.nodes.map((n) => n.id)).toEqual(["a"]);
    expect(graph.edges).toEqual([]);
  });

  it("survives junk: unknown mode, non-boolean permissions, no graph", () => {
    const config = readConfig({ mode: "destroy", permissions: { modify: "yes", execute: false }, graph: "x" });
    expect(config.mode).toBe("edit");
    expect(config.permissions).toEqual({ execute: false });
    expect(may(config, "modify")).toBe(true);
    expect(viewGraph(config)).toEqual({ nodes: [], edges: [] });
    expect(readConfig(null).listUrl).toBe("/workflows/");
  });
});

describe("a run page's config", () => {
  it("names the execution to follow in view mode", () => {
    const config = readConfig({ mode: "view", executionId: "e1", graph: { nodes: [], edges: [] } });
    expect(config.executionId).toBe("e1");
    expect(may(config, "execute")).toBe(false);
  });

  it("ignores an execution outside view mode, or an odd one", () => {
    expect(readConfig({ mode: "edit", executionId: "e1" }).executionId).toBeNull();
    expect(readConfig({ mode: "view", executionId: 7 }).executionId).toBeNull();
    expect(readConfig({ mode: "view" }).executionId).toBeNull();
  });
});
