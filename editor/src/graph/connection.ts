/**
 * The one connection rule, the same as the server's graph.py: ANY connects to everything, a TEXT
 * input accepts NUMBER, otherwise the types must be equal; a non-multiple input takes one edge;
 * no self-loops and no cycles.
 */
import type { Catalogue, PortSpec, PortType } from "../api/types";
import { type WfEdge, type WfNode, isBasedNode, portOf } from "./types";

export interface ConnectionLike {
  source: string | null;
  target: string | null;
  sourceHandle?: string | null;
  targetHandle?: string | null;
}

export type ConnectionCheck = { ok: true } | { ok: false; reason: string };

export function compatible(source: PortType, target: PortType): boolean {
  if (source === "ANY" || target === "ANY") return true;
  if (target === "TEXT" && source === "NUMBER") return true;
  return source === target;
}

const refuse = (reason: string): ConnectionCheck => ({ ok: false, reason });

export function checkConnection(
  conn: ConnectionLike,
  nodes: readonly WfNode[],
  edges: readonly WfEdge[],
  catalogue: Catalogue,
): ConnectionCheck {
  const { source, target } = conn;
  if (!source || !target) return refuse("Connect an output to an input");
  if (source === target) return refuse("A node cannot connect to itself");
  const from = nodes.find((n) => n.id === source);
  const to = nodes.find((n) => n.id === target);
  if (!from || !to) return refuse("That node no longer exists");
  if (!isBasedNode(from) || !isBasedNode(to)) return refuse("Notes cannot be connected");
  const out = findPort(
    catalogue.get(from.data.nodeType)?.outputs,
    portOf(conn.sourceHandle, "out"),
    catalogue.get(from.data.nodeType)?.outputAliases,
  );
  const inp = findPort(catalogue.get(to.data.nodeType)?.inputs, portOf(conn.targetHandle, "in"));
  if (!out || !inp) return refuse("Connect an output (right side) to an input (left side)");
  if (!compatible(out.type, inp.type)) {
    return refuse(
      `${out.type} output “${out.label || out.id}” cannot feed ` + `${inp.type} input “${inp.label || inp.id}”`,
    );
  }
  return checkTopology(conn, inp, edges, to.data.label);
}

function checkTopology(
  conn: ConnectionLike,
  inp: PortSpec,
  edges: readonly WfEdge[],
  targetLabel: string,
): ConnectionCheck {
  const into = edges.filter((e) => e.target === conn.target && e.targetHandle === conn.targetHandle);
  if (into.some((e) => e.source === conn.source && e.sourceHandle === conn.sourceHandle)) {
    return refuse("These ports are already connected");
  }
  if (!inp.multiple && into.length > 0) {
    return refuse(
      `“${inp.label || inp.id}” of ${targetLabel} takes one connection; ` + "remove the existing one first",
    );
  }
  if (reaches(conn.target as string, conn.source as string, edges)) {
    return refuse("This connection would create a cycle");
  }
  return { ok: true };
}

function findPort(
  ports: PortSpec[] | undefined,
  id: string | null,
  aliases?: Record<string, string>,
): PortSpec | undefined {
  if (!ports || id === null) return undefined;
  const real = aliases?.[id] ?? id;
  return ports.find((p) => p.id === real);
}

/** True if `to` can be reached from `from` along the edges (so from→…→to exists). */
export function reaches(from: string, to: string, edges: readonly WfEdge[]): boolean {
  return walk(from, adjacency(edges, "source", "target")).has(to);
}

/** The target and every node it depends on, as the server's upstream_of. */
export function upstreamOf(target: string, edges: readonly WfEdge[]): Set<string> {
  return walk(target, adjacency(edges, "target", "source"));
}

function adjacency(edges: readonly WfEdge[], from: "source" | "target", to: "source" | "target") {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e[from], [...(next.get(e[from]) ?? []), e[to]]);
  return next;
}

function walk(start: string, next: Map<string, string[]>): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return seen;
}

/** The port type of a node's output handle, for colouring edges. */
export function outputType(
  node: WfNode | undefined,
  handle: string | null | undefined,
  catalogue: Catalogue,
): PortType | undefined {
  if (!node || !isBasedNode(node)) return undefined;
  return outputPortType(node.data.nodeType, handle, catalogue);
}

/** The type an output handle of a node of type `nodeType` carries. */
export function outputPortType(
  nodeType: string | undefined,
  handle: string | null | undefined,
  catalogue: Catalogue,
): PortType | undefined {
  const spec = nodeType ? catalogue.get(nodeType) : undefined;
  return findPort(spec?.outputs, portOf(handle, "out"), spec?.outputAliases)?.type;
}
