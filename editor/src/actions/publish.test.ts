import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import type { TemplateOut } from "../api/sharing";
import { createEditorStore } from "../store";
import { fakeEnv } from "../test/fakeEnv";
import { parseTags, publishTemplate } from "./publish";

const template = (version: number): TemplateOut => ({
  id: "t1",
  name: "Fox",
  description: "",
  tags: [],
  scope: "team",
  version,
  teamId: 1,
  author: { name: "owner", team: "Team" },
  nodes: [],
  edges: [],
  nodeCount: 0,
  inputs: [],
  estimatedCredits: 0,
  previewUrl: null,
  useCount: 0,
  createdAt: "2026-11-28T12:00:00.000Z",
  updatedAt: "2026-11-28T12:00:00.000Z",
});
const fields = { name: "Fox", description: "A fox", tags: ["animals"], scope: "team" as const };

function savedEditor(publishedTemplateId: string | null = null) {
  const store = createEditorStore();
  store.getState().setWorkflow({ id: "w1", version: 2, updatedAt: "2026-11-28T12:00:00.000Z" });
  store.getState().setPublishedTemplateId(publishedTemplateId);
  return store;
}

describe("publish as template", () => {
  it("reads tags from a comma-separated field", () => {
    expect(parseTags(" portrait, Flux ,,portrait, flux ")).toEqual(["portrait", "Flux"]);
    expect(parseTags("")).toEqual([]);
  });

  it("publishes a saved workflow with POST and remembers the template", async () => {
    const store = savedEditor();
    const env = fakeEnv({ "POST /templates": template(1) });
    await publishTemplate(store, env, fields);
    expect(env.calls).toEqual([{ method: "POST", path: "/templates", body: { workflowId: "w1", ...fields } }]);
    expect(store.getState().publishedTemplateId).toBe("t1");
  });

  it("republishes with PUT when the workflow was published before", async () => {
    const store = savedEditor("t1");
    const env = fakeEnv({ "PUT /templates/t1": template(2) });
    const published = await publishTemplate(store, env, fields);
    expect(published.version).toBe(2);
    expect(env.calls.map((c) => c.method)).toEqual(["PUT"]);
  });

  it("publishes afresh when the earlier template was unpublished meanwhile", async () => {
    const store = savedEditor("t0");
    const env = fakeEnv({
      "PUT /templates/t0": new ApiError(404, { error: "Template not found", code: "not_found" }),
      "POST /templates": template(1),
    });
    await publishTemplate(store, env, fields);
    expect(env.calls.map((c) => `${c.method} ${c.path}`)).toEqual(["PUT /templates/t0", "POST /templates"]);
    expect(store.getState().publishedTemplateId).toBe("t1");
  });

  it("passes the server's refusal on to the dialog", async () => {
    const store = savedEditor("t1");
    const env = fakeEnv({
      "PUT /templates/t1": new ApiError(403, {
        error: "Your role in this team cannot do this",
        code: "forbidden_role",
      }),
    });
    await expect(publishTemplate(store, env, fields)).rejects.toThrow("Your role in this team cannot do this");
  });
});
