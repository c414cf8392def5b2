/**
 * The real node catalogue, exactly as GET /api/v1/nodes serves it: catalogue.json is written by
 * `make api-snapshot`, and `make test` fails when it is stale. Tests never describe node types
 * by hand, so they cannot drift from the server.
 */
import type { Catalogue, NodeSpec } from "../api/types";
import type { BasedNode, WfEdge } from "../graph/types";
import snapshot from "./catalogue.json";

export const catalogue: Catalogue = new Map(
  (snapshot.nodes as unknown as NodeSpec[]).map((spec) => [spec.nodeType, spec]),
);

export function spec(nodeType: string): NodeSpec {
  const found = catalogue.get(nodeType);
  if (!found) throw new Error(`${nodeType} is not in the catalogue snapshot`);
  return found;
}

export function node(id: string, nodeType: string, x = 0, y = 0): BasedNode {
  spec(nodeType);
  return { id, type: "basedNode", position: { x, y }, data: { label: id, nodeType, params: {} } };
}

export function edge(id: string, source: string, sourcePort: string, target: string, targetPort: string): WfEdge {
  return { id, source, target, sourceHandle: `out-${sourcePort}`, targetHandle: `in-${targetPort}` };
}
