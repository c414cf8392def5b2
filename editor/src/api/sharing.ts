/**
 * Shapes of the versions and templates endpoints, from the server's OpenAPI document (see
 * types.ts). Only what OpenAPI cannot say is written by hand: a diff's per-field change, which
 * the schema can only call an object.
 */
import type { components } from "./openapi";
import type { JsonValue } from "./types";

type Schemas = components["schemas"];

export type VersionSummary = Schemas["VersionSummaryOut"];
export type VersionList = Schemas["VersionListOut"];
export type VersionDetail = Schemas["VersionOut"];
export type RestoreIn = Schemas["RestoreIn"];
export type TagIn = Schemas["TagIn"];

/** One changed field: `"params.<name>"`, `"label"` or `"nodeType"`. */
export interface FieldChange {
  from: JsonValue | undefined;
  to: JsonValue | undefined;
}

export interface NodeDiff {
  nodeId: string;
  changes: Record<string, FieldChange>;
}

/** `GET /workflows/{id}/versions/{a}/diff/{b}`: what changed going from version a to b. */
export type VersionDiff = Omit<Schemas["DiffOut"], "nodesChanged"> & { nodesChanged: NodeDiff[] };

export type TemplateScope = Schemas["TemplateOut"]["scope"];
export type TemplatePublishIn = Schemas["TemplatePublishIn"];
export type TemplateOut = Schemas["TemplateOut"];
