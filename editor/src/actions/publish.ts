/** Publish as template (docs/api.md "Templates"): POST /templates, or PUT to republish (version + 1). */
import { ApiError } from "../api/client";
import type { TemplateOut, TemplatePublishIn } from "../api/sharing";
import type { EditorEnv } from "../env";
import type { EditorStore } from "../store";
import { saveWorkflow } from "./workflow";

export type PublishFields = Omit<TemplatePublishIn, "workflowId">;

/** "portrait, Flux ,portrait" → ["portrait", "Flux"]: trimmed, no empties, no repeats. */
export function parseTags(text: string): string[] {
  const seen = new Set<string>();
  const tags: string[] = [];
  for (const raw of text.split(",")) {
    const tag = raw.trim();
    if (tag && !seen.has(tag.toLowerCase())) {
      seen.add(tag.toLowerCase());
      tags.push(tag);
    }
  }
  return tags;
}

/**
 * A template is a snapshot of the saved graph, so unsaved edits are saved first. Republishes the
 * template this workflow was last published as (when there is one it may change), else creates
 * one. Throws what the server answered; the dialog shows it.
 */
export async function publishTemplate(store: EditorStore, env: EditorEnv, fields: PublishFields): Promise<TemplateOut> {
  const before = store.getState();
  if ((before.dirty || !before.workflow.id) && !(await saveWorkflow(store, env))) {
    throw new Error("Not published: the workflow could not be saved");
  }
  const { workflow, publishedTemplateId } = store.getState();
  if (!workflow.id) throw new Error("Save the workflow before publishing it");
  const body: TemplatePublishIn = { workflowId: workflow.id, ...fields };
  const template = await republishOrCreate(env, publishedTemplateId, body);
  store.getState().setPublishedTemplateId(template.id);
  return template;
}

async function republishOrCreate(
  env: EditorEnv,
  existing: string | null,
  body: TemplatePublishIn,
): Promise<TemplateOut> {
  if (existing) {
    try {
      return await env.api.put<TemplateOut>(`/templates/${encodeURIComponent(existing)}`, body);
    } catch (error) {
      // Unpublished since the page was opened: publish it afresh.
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  return env.api.post<TemplateOut>("/templates", body);
}

export const templateUrl = (id: string): string => `/templates/${encodeURIComponent(id)}/`;
