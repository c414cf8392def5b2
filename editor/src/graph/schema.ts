/**
 * Turns a node's paramsSchema (JSON Schema from pydantic) into form fields, default params and
 * field-level validation. Pure, so the inspector and the tests share it.
 */
import type { JsonSchema, JsonValue } from "../api/types";
import type { Params } from "./types";

export type FieldKind =
  "text" | "textarea" | "url" | "number" | "integer" | "select" | "checkbox" | "list" | "seed" | "json";

export interface FieldDef {
  name: string;
  title: string;
  description: string;
  kind: FieldKind;
  required: boolean;
  nullable: boolean;
  defaultValue: JsonValue | undefined;
  options: JsonValue[];
  min?: number;
  max?: number;
  maxItems?: number;
  advanced: boolean;
}

/** Params every node type accepts; shown under "Advanced". */
export const COMMON_PARAMS = new Set(["retries", "timeoutSeconds", "continueOnError", "simulate"]);
const LONG_TEXT = /^(prompt|negative_prompt|template|system|system_prompt|text|body|body_template)$/;

export function fieldsFor(schema: JsonSchema): FieldDef[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, raw]) => {
    const { schema: prop, nullable } = unwrap(raw, schema);
    return {
      name,
      title: raw.title ?? prop.title ?? humanise(name),
      description: raw.description ?? prop.description ?? "",
      kind: kindOf(name, prop),
      required: required.has(name),
      nullable,
      defaultValue: raw.default ?? prop.default,
      options: prop.enum ?? [],
      min: prop.minimum ?? prop.exclusiveMinimum,
      max: prop.maximum ?? prop.exclusiveMaximum,
      maxItems: prop.maxItems,
      advanced: COMMON_PARAMS.has(name) || raw.group === "advanced" || prop.group === "advanced",
    };
  });
}

/** Optional[X] arrives as anyOf [X, null]; $ref points into $defs (enums of Literal types). */
function unwrap(prop: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const resolved = resolveRef(prop, root);
  const variants = resolved.anyOf ?? resolved.oneOf;
  if (!variants) return { schema: resolved, nullable: false };
  const concrete = variants.filter((v) => v.type !== "null");
  const nullable = concrete.length < variants.length;
  const merged = concrete.length === 1 ? resolveRef(concrete[0], root) : { type: "string" };
  return { schema: { ...merged, default: resolved.default }, nullable };
}

function resolveRef(prop: JsonSchema, root: JsonSchema): JsonSchema {
  if (prop.allOf?.length === 1) return resolveRef({ ...prop.allOf[0], ...prop, allOf: undefined }, root);
  if (!prop.$ref) return prop;
  const key = prop.$ref.split("/").pop() ?? "";
  return { ...(root.$defs?.[key] ?? {}), ...prop, $ref: undefined };
}

function kindOf(name: string, prop: JsonSchema): FieldKind {
  const type = Array.isArray(prop.type) ? prop.type.find((t) => t !== "null") : prop.type;
  if (prop.enum) return "select";
  if (name === "seed" && (type === "integer" || type === "number")) return "seed";
  if (type === "integer") return "integer";
  if (type === "number") return "number";
  if (type === "boolean") return "checkbox";
  if (type === "array" && (prop.items?.type === "string" || !prop.items)) return "list";
  if (type === "array" || type === "object") return "json";
  if (prop.format === "textarea" || LONG_TEXT.test(name)) return "textarea";
  if (prop.format === "uri") return "url";
  return "text";
}

function humanise(name: string): string {
  const words = name.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The params a freshly added node starts with: every default the schema declares. */
export function defaultParams(schema: JsonSchema): Params {
  const params: Params = {};
  for (const field of fieldsFor(schema)) {
    if (field.defaultValue !== undefined && field.defaultValue !== null) {
      params[field.name] = field.defaultValue;
    }
  }
  return params;
}

/** A message for an invalid value, or null. Empty optional values are fine. */
export function validateField(field: FieldDef, value: JsonValue | undefined): string | null {
  if (isEmpty(value)) return field.required ? `${field.title} is required` : null;
  if (field.kind === "number" || field.kind === "integer" || field.kind === "seed") {
    return validateNumber(field, value);
  }
  if (field.kind === "url" && !isUrl(String(value))) return "Enter an http(s) URL";
  if (field.kind === "select" && field.options.length && !field.options.includes(value as JsonValue)) {
    return `Choose one of ${field.options.join(", ")}`;
  }
  if (field.kind === "list" && field.maxItems !== undefined && Array.isArray(value) && value.length > field.maxItems) {
    return `At most ${field.maxItems} items`;
  }
  return null;
}

/** An http(s) URL, or a path on this site (an upload); the server checks it again. */
function isUrl(value: string): boolean {
  if (value.startsWith("/")) return true;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host !== "";
  } catch {
    return false;
  }
}

function validateNumber(field: FieldDef, value: JsonValue | undefined): string | null {
  if (typeof value !== "number" || Number.isNaN(value)) return "Enter a number";
  if (field.kind !== "number" && !Number.isInteger(value)) return "Enter a whole number";
  if (field.min !== undefined && value < field.min) return `At least ${field.min}`;
  if (field.max !== undefined && value > field.max) return `At most ${field.max}`;
  return null;
}

export function isEmpty(value: JsonValue | undefined): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

/** The few params worth showing on the node itself. */
export function summaryOf(schema: JsonSchema, params: Params, limit = 3): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  for (const field of fieldsFor(schema)) {
    if (rows.length >= limit) break;
    const value = params[field.name];
    if (field.advanced || isEmpty(value) || field.kind === "json") continue;
    rows.push([field.title, display(value as JsonValue)]);
  }
  return rows;
}

function display(value: JsonValue): string {
  if (Array.isArray(value)) return `${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}
