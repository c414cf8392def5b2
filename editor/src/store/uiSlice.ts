import type { StateCreator } from "zustand";
import type { Violation } from "../api/types";
import type { EditorState, Issues, UiSlice } from "./types";

// Errors stay longer: they say what to fix, and the person may be looking elsewhere.
const TOAST_MS = { info: 5000, success: 5000, error: 15000 } as const;
let toastId = 0;

export function issuesFrom(violations: readonly Violation[]): Issues {
  const issues: Issues = { nodes: {}, edges: {} };
  for (const v of violations) {
    if (v.edgeId) (issues.edges[v.edgeId] ??= []).push(v.message);
    else if (v.nodeId) (issues.nodes[v.nodeId] ??= []).push(shortMessage(v.message));
  }
  return issues;
}

/** Shown on the node itself, "Node 'Flux' (node-1): needs input…" needs no node name. */
export function shortMessage(message: string): string {
  const rest = message.replace(/^Node '[^']*' \([^)]*\):?\s*/, "");
  return rest ? rest.charAt(0).toUpperCase() + rest.slice(1) : message;
}

export const createUiSlice: StateCreator<EditorState, [], [], UiSlice> = (set, get) => ({
  readOnly: false,
  workflow: {
    id: null,
    name: "Untitled workflow",
    description: "",
    tags: [],
    isActive: true,
    updatedAt: null,
    version: null,
  },
  selectedNodeIds: [],
  runPanelOpen: false,
  dialog: null,
  toasts: [],
  issues: { nodes: {}, edges: {} },
  snapToGrid: true,
  saving: false,
  sidePanel: null,
  publishedTemplateId: null,

  setWorkflow: (patch) => set((s) => ({ workflow: { ...s.workflow, ...patch } })),
  rename: (name) => set((s) => ({ workflow: { ...s.workflow, name }, dirty: true })),
  setSelection: (nodeIds) => {
    const same =
      nodeIds.length === get().selectedNodeIds.length && nodeIds.every((id, i) => id === get().selectedNodeIds[i]);
    if (!same) set({ selectedNodeIds: nodeIds });
  },
  setRunPanelOpen: (open) => set({ runPanelOpen: open }),
  setDialog: (dialog) => set({ dialog }),
  toast: (kind, message) => {
    toastId += 1;
    const id = toastId;
    set((s) => ({ toasts: [...s.toasts.filter((t) => t.message !== message), { id, kind, message }] }));
    setTimeout(() => get().dismissToast(id), TOAST_MS[kind]);
  },
  dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
  setIssues: (violations) => set({ issues: issuesFrom(violations) }),
  toggleSnap: () => set((s) => ({ snapToGrid: !s.snapToGrid })),
  setSaving: (saving) => set({ saving }),
  setSidePanel: (sidePanel) => set(sidePanel ? { sidePanel } : { sidePanel, compare: null }),
  setPublishedTemplateId: (publishedTemplateId) => set({ publishedTemplateId }),
});
