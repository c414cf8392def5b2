/** One editor store per editor instance, built from the graph, ui and run slices. */
import { createContext, useContext } from "react";
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";
import { createGraphSlice } from "./graphSlice";
import { createRunSlice } from "./runSlice";
import type { EditorState } from "./types";
import { createUiSlice } from "./uiSlice";

export type EditorStore = StoreApi<EditorState>;

export function createEditorStore(): EditorStore {
  return createStore<EditorState>()((...a) => ({
    ...createGraphSlice(...a),
    ...createUiSlice(...a),
    ...createRunSlice(...a),
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
