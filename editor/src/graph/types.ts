import type { Edge, Node } from "@xyflow/react";
import type { JsonValue } from "../api/types";

export type Params = Record<string, JsonValue>;

/** What a model/utility node saves: nothing but serialisable data (no status, no callbacks). */
export interface BasedNodeData extends Record<string, unknown> {
  label: string;
  nodeType: string;
  params: Params;
  category?: string;
}

/** A comment on the canvas; never executed, never connected. */
export interface StickyNoteData extends Record<string, unknown> {
  label: string;
  nodeType: "note:sticky";
  text: string;
  color?: string;
}

export type BasedNode = Node<BasedNodeData, "basedNode">;
export type StickyNode = Node<StickyNoteData, "stickyNote">;
export type WfNode = BasedNode | StickyNode;
export type WfEdge = Edge;

export interface Graph {
  nodes: WfNode[];
  edges: WfEdge[];
}

export const STICKY_NODE_TYPE = "note:sticky";
export const STICKY_SIZE = { width: 220, height: 140 };

export function isBasedNode(node: WfNode): node is BasedNode {
  return node.type === "basedNode";
}

export const inHandle = (port: string): string => `in-${port}`;
export const outHandle = (port: string): string => `out-${port}`;

/** "in-prompt" → "prompt"; null for handles that are not of the expected side. */
export function portOf(handle: string | null | undefined, side: "in" | "out"): string | null {
  const prefix = `${side}-`;
  return handle && handle.startsWith(prefix) ? handle.slice(prefix.length) : null;
}
