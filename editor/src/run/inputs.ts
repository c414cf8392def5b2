/**
 * What the Run dialog asks for: one field per input node, built from the catalogue's
 * `inputParam` / `inputType` (the same two fields GET /workflows/{id}/run and the webhook read),
 * prefilled with the value saved in the node. Pure, so the tests run it on the real catalogue.
 */
import type { Catalogue, InputType, JsonValue } from "../api/types";
import { type FieldDef, type FieldKind, fieldsFor, validateField } from "../graph/schema";
import { type BasedNode, type WfNode, isBasedNode } from "../graph/types";

export interface RunInputRow {
  nodeId: string;
  label: string;
  type: InputType;
  field: FieldDef;
  value: JsonValue | undefined;
}

const KIND: Record<InputType, FieldKind> = {
  text: "textarea",
  image: "url",
  url: "url",
  number: "number",
  boolean: "checkbox",
  select: "select",
};

export function runInputRows(nodes: readonly WfNode[], catalogue: Catalogue): RunInputRow[] {
  return nodes.filter(isBasedNode).flatMap((node) => {
    const spec = catalogue.get(node.data.nodeType);
    if (!spec?.inputParam || !spec.inputType) return [];
    const param = fieldsFor(spec.paramsSchema).find((f) => f.name === spec.inputParam);
    if (!param) return [];
    const field = fieldOf(node, param, spec.inputType);
    return [
      { nodeId: node.id, label: node.data.label, type: spec.inputType, field, value: node.data.params[param.name] },
    ];
  });
}

function fieldOf(node: BasedNode, param: FieldDef, type: InputType): FieldDef {
  const { params } = node.data;
  const options = type === "select" && Array.isArray(params.options) ? params.options : param.options;
  return {
    ...param,
    kind: KIND[type],
    options,
    title: node.data.label,
    description: param.description,
    required: params.required === true,
  };
}

/** Per node id, what is wrong with the values before anything is sent. */
export function inputErrors(
  rows: readonly RunInputRow[],
  values: Record<string, JsonValue | undefined>,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const row of rows) {
    const problem = validateField(row.field, values[row.nodeId]);
    if (problem) errors[row.nodeId] = problem;
  }
  return errors;
}

/** The execute body's `inputs`, keyed by node id (labels may repeat; ids do not). */
export function inputValues(
  rows: readonly RunInputRow[],
  values: Record<string, JsonValue | undefined>,
): Record<string, JsonValue> {
  const inputs: Record<string, JsonValue> = {};
  for (const row of rows) {
    const value = values[row.nodeId];
    if (value !== undefined) inputs[row.nodeId] = value;
  }
  return inputs;
}
