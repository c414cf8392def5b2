/**
 * Uploads in flight and their last failure, per target (a node id, or CANVAS for a file dropped
 * on empty canvas). UI state only, so it lives beside the editor store, never in node.data: one
 * such store per editor instance.
 */
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";
import { type EditorStore, useEditorStore } from "../store";

export const CANVAS = "__canvas__";

export interface UploadStatus {
  /** 0..1 while uploading; absent otherwise. */
  progress?: number;
  fileName?: string;
  error?: string;
}

interface UploadsState {
  byTarget: Record<string, UploadStatus>;
}

export type UploadsStore = StoreApi<UploadsState>;

const stores = new WeakMap<EditorStore, UploadsStore>();

export function uploadsOf(editor: EditorStore): UploadsStore {
  let store = stores.get(editor);
  if (!store) {
    store = createStore<UploadsState>()(() => ({ byTarget: {} }));
    stores.set(editor, store);
  }
  return store;
}

export function setStatus(editor: EditorStore, target: string, status: UploadStatus | null): void {
  uploadsOf(editor).setState((s) => {
    const byTarget = { ...s.byTarget };
    if (status) byTarget[target] = status;
    else delete byTarget[target];
    return { byTarget };
  });
}

const NONE: UploadStatus = {};

export function useUploadStatus(target: string): UploadStatus {
  const editor = useEditorStore();
  return useStore(uploadsOf(editor), (s) => s.byTarget[target] ?? NONE);
}
