import { applyNodeChanges } from "@xyflow/react";
import type { StateCreator } from "zustand";
import type { CompareSlice, EditorState } from "./types";

/** The version comparison drawn over the canvas: marks on the nodes, ghosts of removed ones. */
export const createCompareSlice: StateCreator<EditorState, [], [], CompareSlice> = (set, get) => ({
  compare: null,

  setCompare: (compare) => set({ compare }),

  onGhostChanges: (changes) => {
    const { compare } = get();
    const measured = changes.filter((c) => c.type === "dimensions");
    if (!compare || measured.length === 0) return;
    const nodes = applyNodeChanges(measured, compare.ghosts.nodes);
    set({ compare: { ...compare, ghosts: { ...compare.ghosts, nodes } } });
  },
});
