import { useCallback } from "react";
import { hasRunInputs, runWorkflow } from "../../actions/run";
import { useEnv } from "../../env";
import { useEditorStore } from "../../store";

/** Run: ask for input values first when the graph has input nodes, else run at once. */
export function useStartRun(): () => void {
  const store = useEditorStore();
  const env = useEnv();
  return useCallback(() => {
    if (store.getState().run.status === "RUNNING") return;
    if (hasRunInputs(store)) store.getState().setDialog("run");
    else void runWorkflow(store, env);
  }, [store, env]);
}
