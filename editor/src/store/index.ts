/** One editor store per editor instance, built from the graph, ui and run slices. */
import { createContext, useContext } from "react";
import { useStore } from "zustand";
import { useShallow } from "zustand/react/shallow";
import { createStore, type StoreApi } from "zustand/vanilla";
import { createCompareSlice } from "./compareSlice";
import { createGraphSlice } from "./graphSlice";
import { createRunSlice } from "./runSlice";
import type { EditorState } from "./types";
import { createUiSlice } from "./uiSlice";

export type EditorStore = StoreApi<EditorState>;

export interface StoreOptions {
  /** View mode, or a role that may not modify: the graph only changes by loading one. */
  readOnly?: boolean;
}

export function createEditorStore(options: StoreOptions = {}): EditorStore {
  return createStore<EditorState>()((...a) => ({
    ...createGraphSlice(...a),
    ...createUiSlice(...a),
    ...createRunSlice(...a),
    ...createCompareSlice(...a),
    readOnly: options.readOnly ?? false,
  }));
}

export const EditorStoreContext = createContext<EditorStore | null>(null);

export function useEditorStore(): EditorStore {
  const store = useContext(EditorStoreContext);
  if (!store) throw new Error("useEditor must be used inside <EditorStoreContext.Provider>");
  return store;
}

/** Subscribe to one narrow slice of the editor state. */
export function useEditor<T>(selector: (state: EditorState) => T): T {
  return useStore(useEditorStore(), selector);
}

/**
 * Subscribe to a list derived from the state (node labels, node types…): the component
 * re-renders only when an item changes, compared one by one — not when, say, a node moves.
 */
export function useEditorList<T>(selector: (state: EditorState) => readonly T[]): readonly T[] {
  return useStore(useEditorStore(), useShallow(selector));
}
