/**
 * Shapes of the REST API as the editor uses them. They come from the server's OpenAPI document
 * (openapi.ts is generated from openapi.json, both written by `make api-snapshot`), so a change
 * on the server is a type error here. Only what OpenAPI cannot say is written by hand: JSON
 * Schema for the params forms, and the live events' partial node states.
 */
import type { components } from "./openapi";

type Schemas = components["schemas"];

export type PortType = Schemas["PortType"];
export type PortSpec = Schemas["PortOut"];
export type InputType = NonNullable<Schemas["NodeTypeOut"]["inputType"]>;
export type NodeStatus = Schemas["NodeStatus"];
export type ExecutionStatus = Schemas["ExecutionStatus"];
export type Violation = Schemas["ViolationOut"];
export type LintResult = Schemas["LintOut"];
export type ExecutionPoll = Schemas["PollOut"];
export type ExecutionSummary = Schemas["ExecutionSummaryOut"];
export type HistoryOut = Schemas["HistoryOut"];
export type ExecuteOut = Schemas["ExecuteOut"];
export type WorkflowOut = Schemas["WorkflowOut"];
export type WorkflowIn = Schemas["WorkflowIn"];
export type WorkflowUpdateIn = Schemas["WorkflowUpdateIn"];
export type InsufficientCredits = Schemas["InsufficientCreditsOut"];
export type InvalidGraph = Schemas["InvalidGraphOut"];
export type FieldsError = Schemas["FieldsErrorOut"];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** The subset of JSON Schema (as pydantic writes it) that the inspector understands. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: JsonValue;
  enum?: JsonValue[];
  const?: JsonValue;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  format?: string;
  /** A UI hint from the node's params model: "advanced" fields are folded away. */
  group?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

/** A catalogue entry (GET /nodes), its params schema read as JSON Schema. */
export type NodeSpec = Omit<Schemas["NodeTypeOut"], "paramsSchema"> & { paramsSchema: JsonSchema };

export type Catalogue = ReadonlyMap<string, NodeSpec>;

/** A node's state as the run store holds it: complete from a poll or a live event, or only a
 * status while the run is starting. */
export type NodeState = Pick<Schemas["NodeStateOut"], "nodeId" | "status"> & Partial<Schemas["NodeStateOut"]>;

/** The live `execution` event: the execution's status fields without the node states. */
export type ExecutionUpdate = Pick<ExecutionPoll, "executionId" | "status"> &
  Partial<Pick<ExecutionPoll, "error" | "endTime" | "durationMs" | "creditsUsed" | "finalOutput">>;

/** One row of accounts/permissions.py's table for the person's role in the workflow's team
 * (`actions_for(role)`): "read", "modify", "execute", "publish_template", … → may they. */
export type Permissions = Readonly<Record<string, boolean>>;

/** What the Django page hands to the editor through json_script (read by config.ts). */
export interface EditorConfig {
  workflowId: string | null;
  csrfToken: string;
  apiBase: string;
  listUrl: string;
  team: { id: number; name: string } | null;
  /** "edit" (the default) is the whole editor; "view" is only the canvas, read-only, showing
   * `graph` (the template page, the run page). */
  mode?: "edit" | "view";
  graph?: { nodes: unknown[]; edges: unknown[] };
  /** Absent: everything is allowed (the server still decides). */
  permissions?: Permissions;
  /** The operator allows publishing templates to every account (settings.PUBLIC_TEMPLATES_ENABLED). */
  publicTemplates?: boolean;
  /** The team template last published from this workflow: publishing again republishes it. */
  publishedTemplateId?: string | null;
  /** View mode on a run's page: the execution whose node statuses paint the graph (live). */
  executionId?: string | null;
}
