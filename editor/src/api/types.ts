/** Shapes of the REST API (api.md) as the editor uses them. */

export type PortType = "TEXT" | "IMAGE" | "VIDEO" | "AUDIO" | "NUMBER" | "BOOLEAN" | "JSON" | "ANY";

export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export interface PortSpec {
  id: string;
  label: string;
  type: PortType;
  required: boolean;
  multiple: boolean;
}

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

export interface NodeSpec {
  nodeType: string;
  label: string;
  category: string;
  description: string;
  inputs: PortSpec[];
  outputs: PortSpec[];
  paramsSchema: JsonSchema;
  credits: number;
  creditUnit?: string;
  timeoutSeconds?: number;
  outputAliases?: Record<string, string>;
}

export type Catalogue = ReadonlyMap<string, NodeSpec>;

export interface Violation {
  rule: string;
  message: string;
  nodeId?: string;
  edgeId?: string;
}

export interface LintResult {
  ok: boolean;
  violations: Violation[];
  warnings: Violation[];
}

export type NodeStatus = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "SKIPPED" | "CANCELLED";
export type ExecutionStatus = "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";

export interface NodeState {
  nodeId: string;
  label?: string;
  nodeType?: string;
  status: NodeStatus;
  error?: string | null;
  progress?: number | null;
  outputUrl?: string | null;
  outputUrls?: string[] | null;
  text?: string | null;
  requestId?: string | null;
  attempts?: number | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  durationMs?: number | null;
  credits?: number | null;
}

export interface ExecutionPoll {
  executionId: string;
  workflowId?: string;
  status: ExecutionStatus;
  error?: string | null;
  startTime?: string | null;
  endTime?: string | null;
  durationMs?: number | null;
  creditsUsed?: number | null;
  nodeStates: NodeState[];
  finalOutput?: JsonValue;
}

export interface ExecutionUpdate {
  executionId: string;
  status: ExecutionStatus;
  error?: string | null;
  endTime?: string | null;
  durationMs?: number | null;
  creditsUsed?: number | null;
  finalOutput?: JsonValue;
}

export interface ExecutionSummary {
  executionId: string;
  status: ExecutionStatus;
}

export interface WorkflowOut {
  id: string;
  name: string;
  description: string;
  nodes: unknown[];
  edges: unknown[];
  tags: string[];
  isActive: boolean;
  updatedAt: string;
  version?: number;
}

/** What the Django page hands to the editor through json_script. */
export interface EditorConfig {
  workflowId: string | null;
  csrfToken: string;
  apiBase: string;
  listUrl: string;
  team: { id: number; name: string } | null;
}
