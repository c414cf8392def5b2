import { useEffect } from "react";
import { lintGraph } from "../actions/workflow";
import { useEnv } from "../env";
import { useEditorStore } from "../store";

const LINT_DELAY_MS = 900;

/** Ask the server's linter about the graph shortly after each edit, so problems show early. */
export function useLiveLint(): void {
  const store = useEditorStore();
  const env = useEnv();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = store.subscribe((state, prev) => {
      const changed = state.edges !== prev.edges || dataChanged(state.nodes, prev.nodes);
      if (!changed || state.dragActive || !state.dirty) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void lintGraph(store, env), LINT_DELAY_MS);
    });
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [store, env]);
}

/** Selection and measuring do not change what the linter sees; data and membership do. */
function dataChanged(
  a: readonly { id: string; data: unknown }[],
  b: readonly { id: string; data: unknown }[],
): boolean {
  if (a === b) return false;
  if (a.length !== b.length) return true;
  return a.some((n, i) => n.id !== b[i].id || n.data !== b[i].data);
}
