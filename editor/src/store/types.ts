import type { Connection, EdgeChange, NodeChange } from "@xyflow/react";
import type { Catalogue, ExecutionPoll, ExecutionStatus, ExecutionUpdate, NodeState, Violation } from "../api/types";
import type { VersionDiff } from "../api/sharing";
import type { ConnectionCheck } from "../graph/connection";
import type { History } from "../graph/history";
import type { Graph, Params, WfEdge, WfNode } from "../graph/types";
import type { DiffMark } from "../versions/diff";

export interface XY {
  x: number;
  y: number;
}

export interface GraphSlice {
  nodes: WfNode[];
  edges: WfEdge[];
  catalogue: Catalogue;
  history: History;
  /** Coalesces a burst of edits to one field into one undo step. */
  lastRecord: { key: string; at: number } | null;
  dirty: boolean;
  /** A pointer drag is moving nodes (its start already made the undo step). */
  dragActive: boolean;
  onNodesChange: (changes: NodeChange<WfNode>[]) => void;
  onEdgesChange: (changes: EdgeChange<WfEdge>[]) => void;
  connect: (conn: Connection) => ConnectionCheck;
  addNode: (nodeType: string, position: XY) => string | null;
  addSticky: (position: XY) => void;
  updateParams: (id: string, patch: Params, remove?: string[]) => void;
  updateData: (id: string, patch: Record<string, string>) => void;
  beginDrag: () => void;
  endDrag: () => void;
  deleteSelected: () => void;
  duplicateSelected: () => void;
  selectAll: () => void;
  paste: (graph: Graph, offset: XY) => void;
  undo: () => void;
  redo: () => void;
  autoLayout: () => Promise<void>;
  replaceGraph: (graph: Graph, options?: { record?: boolean; dirty?: boolean }) => void;
  markSaved: () => void;
  setCatalogue: (catalogue: Catalogue) => void;
}

export interface WorkflowMeta {
  id: string | null;
  name: string;
  description: string;
  tags: string[];
  isActive: boolean;
  updatedAt: string | null;
  /** The saved version the canvas started from (null until first saved). */
  version: number | null;
}

export interface Toast {
  id: number;
  kind: "info" | "error" | "success";
  message: string;
}

export type Dialog = "help" | "run" | "conflict" | "publish" | "batch" | null;

export type SidePanel = "versions" | null;

export interface Issues {
  nodes: Record<string, string[]>;
  edges: Record<string, string[]>;
}

export interface UiSlice {
  /** The canvas takes no edits (view mode, or a role that may not modify); fixed per store. */
  readOnly: boolean;
  workflow: WorkflowMeta;
  selectedNodeIds: string[];
  runPanelOpen: boolean;
  dialog: Dialog;
  toasts: Toast[];
  issues: Issues;
  snapToGrid: boolean;
  saving: boolean;
  sidePanel: SidePanel;
  /** The team template last published from this workflow (republishing bumps its version). */
  publishedTemplateId: string | null;
  setWorkflow: (patch: Partial<WorkflowMeta>) => void;
  /** A new name typed by the person: an unsaved change. */
  rename: (name: string) => void;
  setSelection: (nodeIds: string[]) => void;
  setRunPanelOpen: (open: boolean) => void;
  setDialog: (dialog: Dialog) => void;
  toast: (kind: Toast["kind"], message: string) => void;
  dismissToast: (id: number) => void;
  setIssues: (violations: Violation[]) => void;
  toggleSnap: () => void;
  setSaving: (saving: boolean) => void;
  setSidePanel: (panel: SidePanel) => void;
  setPublishedTemplateId: (id: string | null) => void;
}

export interface RunState {
  executionId: string | null;
  status: ExecutionStatus | null;
  error: string | null;
  startTime: string | null;
  endTime: string | null;
  creditsUsed: number | null;
  seq: number;
  nodes: Record<string, NodeState>;
  /** Text streamed by LLM nodes while they run (`node.stream` messages), by node id. */
  streams: Record<string, string>;
}

export interface RunSlice {
  run: RunState;
  startRun: (executionId: string, nodeIds: string[]) => void;
  applySnapshot: (poll: ExecutionPoll, seq: number) => void;
  applyNodeState: (state: NodeState, seq: number) => void;
  applyExecution: (update: ExecutionUpdate, seq: number) => void;
  applyStream: (nodeId: string, text: string) => void;
}

/** A version compared with the latest saved one, drawn over the canvas. */
export interface Comparison {
  number: number;
  against: number;
  diff: VersionDiff;
  marks: Record<string, DiffMark>;
  /** Removed nodes and edges as the older version had them; never saved. */
  ghosts: Graph;
}

export interface CompareSlice {
  compare: Comparison | null;
  setCompare: (compare: Comparison | null) => void;
  /** React Flow's measurements of the ghost nodes (they are not in `nodes`). */
  onGhostChanges: (changes: NodeChange<WfNode>[]) => void;
}

export type EditorState = GraphSlice & UiSlice & RunSlice & CompareSlice;
