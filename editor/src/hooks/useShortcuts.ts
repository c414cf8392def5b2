import { useReactFlow } from "@xyflow/react";
import { useEffect, useRef } from "react";
import { saveWorkflow } from "../actions/workflow";
import { useStartRun } from "../components/run/useStartRun";
import { may } from "../config";
import { useEnv } from "../env";
import { copySelection, parseClipboard } from "../graph/clipboard";
import { useEditorStore } from "../store";

function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

/** Editor keyboard shortcuts, plus copy/paste of graph JSON through the system clipboard. A
 * read-only canvas keeps only what changes nothing: fit, help and copy. */
export function useShortcuts(): void {
  const store = useEditorStore();
  const env = useEnv();
  const flow = useReactFlow();
  const startRun = useStartRun();
  const pointer = useRef<{ x: number; y: number } | null>(null);

  useEffect(() => {
    const s = store.getState;
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (s().readOnly) return void viewShortcut(e, mod, key);
      if (mod && key === "s") {
        e.preventDefault();
        return void saveWorkflow(store, env);
      }
      if (mod && key === "enter") return may(env.config, "execute") ? startRun() : undefined;
      if (isEditable(e.target) || s().dialog) return;
      const action = shortcut(key, mod, e.shiftKey);
      if (!action) return;
      e.preventDefault();
      if (action === "fit") void flow.fitView({ padding: 0.2, duration: 300 });
      else if (action === "layout") {
        void s()
          .autoLayout()
          .then(() => requestAnimationFrame(() => void flow.fitView({ padding: 0.2, duration: 300 })));
      } else if (action === "help") s().setDialog("help");
      else void s()[action]();
    };
    const onCopy = (e: ClipboardEvent) => {
      if (isEditable(e.target) || window.getSelection()?.toString()) return;
      const payload = copySelection(s().nodes, s().edges);
      if (!payload || !e.clipboardData) return;
      e.clipboardData.setData("text/plain", JSON.stringify(payload));
      e.preventDefault();
      if (e.type === "cut" && !s().readOnly) s().deleteSelected();
    };
    const viewShortcut = (e: KeyboardEvent, mod: boolean, key: string) => {
      if (isEditable(e.target) || s().dialog) return;
      const action = shortcut(key, mod, e.shiftKey);
      if (action === "fit") void flow.fitView({ padding: 0.2, duration: 300 });
      else if (action === "help") s().setDialog("help");
      if (action === "fit" || action === "help") e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (isEditable(e.target) || s().readOnly) return;
      const graph = parseClipboard(e.clipboardData?.getData("text/plain") ?? "");
      if (!graph) return;
      e.preventDefault();
      const minX = Math.min(...graph.nodes.map((n) => n.position.x));
      const minY = Math.min(...graph.nodes.map((n) => n.position.y));
      const at = pointer.current ? flow.screenToFlowPosition(pointer.current) : null;
      s().paste(graph, at ? { x: at.x - minX, y: at.y - minY } : { x: 40, y: 40 });
    };
    const onMove = (e: PointerEvent) => {
      const overCanvas = (e.target as HTMLElement | null)?.closest?.(".react-flow__pane, .react-flow__node");
      pointer.current = overCanvas ? { x: e.clientX, y: e.clientY } : null;
    };
    window.addEventListener("keydown", onKey);
    document.addEventListener("copy", onCopy);
    document.addEventListener("cut", onCopy);
    document.addEventListener("paste", onPaste);
    window.addEventListener("pointermove", onMove, { passive: true });
    return () => {
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("cut", onCopy);
      document.removeEventListener("paste", onPaste);
      window.removeEventListener("pointermove", onMove);
    };
  }, [store, env, flow, startRun]);
}

type Action = "undo" | "redo" | "duplicateSelected" | "selectAll" | "deleteSelected" | "fit" | "layout" | "help";

function shortcut(key: string, mod: boolean, shift: boolean): Action | null {
  if (mod && key === "z") return shift ? "redo" : "undo";
  if (mod && key === "y") return "redo";
  if (mod && key === "d") return "duplicateSelected";
  if (mod && key === "a") return "selectAll";
  if (!mod && (key === "delete" || key === "backspace")) return "deleteSelected";
  if (!mod && shift && (key === "!" || key === "1")) return "fit";
  if (!mod && shift && key === "l") return "layout";
  if (!mod && key === "?") return "help";
  return null;
}

/** Warn before leaving the page with unsaved changes. */
export function useBeforeUnload(): void {
  const store = useEditorStore();
  useEffect(() => {
    const onUnload = (e: BeforeUnloadEvent) => {
      if (!store.getState().dirty) return;
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", onUnload);
    return () => window.removeEventListener("beforeunload", onUnload);
  }, [store]);
}
