/**
 * Uploading a file for an input node: from the inspector's button, or dropped on the canvas
 * (on a media input node of its kind: that node's URL; anywhere else: a new input node of the
 * kind the server recognised, at the drop point). Every failure is told: a toast, and the
 * field's error under the node's URL.
 */
import { ApiError } from "../api/client";
import type { EditorStore } from "../store";
import { CANVAS, setStatus } from "./progress";
import type { Uploader } from "./transport";
import { inputNodeType, kindOfContentType, kindOfNodeType, type MediaKind, URL_PARAM } from "./types";

export interface Point {
  x: number;
  y: number;
}

/** Uploads the file and makes its URL the node's; false when it failed (already told). */
export async function uploadToNode(
  editor: EditorStore,
  upload: Uploader,
  nodeId: string,
  file: File,
): Promise<boolean> {
  const url = await uploadTracked(editor, upload, nodeId, file);
  if (url === null) return false;
  if (editor.getState().nodes.some((n) => n.id === nodeId)) {
    editor.getState().updateParams(nodeId, { [URL_PARAM]: url.url });
  }
  return true;
}

/** A file dropped on the canvas at `position` (flow coordinates), over `targetId` if any. */
export async function dropFile(
  editor: EditorStore,
  upload: Uploader,
  file: File,
  position: Point,
  targetId: string | null,
): Promise<string | null> {
  const guessed = browserGuess(file);
  if (guessed === "other") {
    editor.getState().toast("error", `${file.name} is not an image, video or audio file`);
    return null;
  }
  const targetKind = targetId ? kindOfNodeType(nodeTypeOf(editor, targetId)) : null;
  const onTarget = targetId !== null && targetKind !== null && (guessed === null || guessed === targetKind);
  const uploaded = await uploadTracked(editor, upload, onTarget ? targetId : CANVAS, file);
  if (uploaded === null) return null;
  const kind = kindOfContentType(uploaded.contentType);
  if (kind === null) return null; // the server stores nothing else
  if (onTarget && kind === targetKind && nodeTypeOf(editor, targetId) !== undefined) {
    editor.getState().updateParams(targetId, { [URL_PARAM]: uploaded.url });
    return targetId;
  }
  return addInputNode(editor, kind, position, uploaded.url);
}

function addInputNode(editor: EditorStore, kind: MediaKind, at: Point, url: string): string | null {
  const { addNode, updateParams, toast } = editor.getState();
  // Centred on the pointer, like a node dragged from the palette.
  const id = addNode(inputNodeType(kind), { x: at.x - 130, y: at.y - 30 });
  if (id === null) {
    toast("error", `This editor has no ${kind} input node`);
    return null;
  }
  updateParams(id, { [URL_PARAM]: url });
  return id;
}

async function uploadTracked(editor: EditorStore, upload: Uploader, target: string, file: File) {
  setStatus(editor, target, { progress: 0, fileName: file.name });
  try {
    const result = await upload(file, (fraction) =>
      setStatus(editor, target, { progress: fraction, fileName: file.name }),
    );
    setStatus(editor, target, null);
    return result;
  } catch (error) {
    const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    setStatus(editor, target, { error: message });
    editor.getState().toast("error", `Upload of ${file.name} failed: ${message}`);
    return null;
  }
}

function nodeTypeOf(editor: EditorStore, id: string): string | undefined {
  const node = editor.getState().nodes.find((n) => n.id === id);
  return node?.data.nodeType;
}

/** The browser's idea of the file (from its name): a kind, "other" when it is surely not media,
 * null when it does not know (the server decides). */
function browserGuess(file: File): MediaKind | "other" | null {
  if (!file.type) return null;
  const kind = kindOfContentType(file.type);
  if (kind) return kind;
  return /^(image|video|audio)\//.test(file.type) ? null : "other";
}
