import type { Catalogue, NodeSpec, PortSpec, PortType } from "../api/types";
import type { BasedNode, WfEdge } from "../graph/types";

const port = (id: string, type: PortType, extra: Partial<PortSpec> = {}): PortSpec => ({
  id, label: id, type, required: false, multiple: false, ...extra,
});

const spec = (nodeType: string, inputs: PortSpec[], outputs: PortSpec[], extra: Partial<NodeSpec> = {}): NodeSpec => ({
  nodeType, label: nodeType, category: nodeType.split(":")[0], description: "", inputs, outputs,
  paramsSchema: { type: "object", properties: {} }, credits: 0, ...extra,
});

export const catalogue: Catalogue = new Map([
  ["input:text", spec("input:text", [], [port("text", "TEXT")], {
    outputAliases: { prompt: "text" },
    paramsSchema: { type: "object", properties: { text: { type: "string", default: "" } } },
  })],
  ["input:number", spec("input:number", [], [port("value", "NUMBER")])],
  ["generate:flux_2", spec("generate:flux_2", [port("prompt", "TEXT", { required: true })],
    [port("image", "IMAGE"), port("images", "IMAGE")])],
  ["upscale:crystal_upscaler", spec("upscale:crystal_upscaler", [port("image_url", "IMAGE", { required: true })],
    [port("image", "IMAGE")])],
  ["utility:prompt_concat", spec("utility:prompt_concat", [port("texts", "TEXT", { multiple: true })],
    [port("text", "TEXT")])],
  ["output:result", spec("output:result", [port("value", "ANY", { multiple: true })], [])],
]);

export function node(id: string, nodeType: string, x = 0, y = 0): BasedNode {
  return { id, type: "basedNode", position: { x, y }, data: { label: id, nodeType, params: {} } };
}

export function edge(id: string, source: string, sourcePort: string, target: string, targetPort: string): WfEdge {
  return { id, source, target, sourceHandle: `out-${sourcePort}`, targetHandle: `in-${targetPort}` };
}
