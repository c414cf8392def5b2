import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useState } from "react";
import { reportError } from "./actions/errors";
import { loadCatalogue, loadLastRun, loadWorkflow } from "./actions/workflow";
import { ApiClient } from "./api/client";
import type { EditorConfig } from "./api/types";
import { Canvas } from "./components/Canvas";
import { Dialogs } from "./components/Dialogs";
import { Inspector } from "./components/inspector/Inspector";
import { Palette } from "./components/Palette";
import { RunPanel } from "./components/run/RunPanel";
import { Toasts } from "./components/Toasts";
import { TopBar } from "./components/TopBar";
import { type EditorEnv, EnvContext } from "./env";
import { useBeforeUnload, useShortcuts } from "./hooks/useShortcuts";
import { useLiveLint } from "./hooks/useLiveLint";
import { LiveRun } from "./run/live";
import { createEditorStore, type EditorStore, EditorStoreContext } from "./store";

type Phase = { kind: "loading" } | { kind: "ready" } | { kind: "failed"; message: string };

export function App({ config }: { config: EditorConfig }) {
  const [store] = useState<EditorStore>(() => createEditorStore());
  const [env] = useState<EditorEnv>(() => {
    const api = new ApiClient(config.apiBase, config.csrfToken);
    return { api, config, live: new LiveRun(store, api) };
  });
  const phase = useLoad(store, env);
  useEffect(() => () => env.live.stop(), [env]);

  if (phase.kind === "loading") return <div className="wf-splash">Loading the editor…</div>;
  if (phase.kind === "failed") {
    return (
      <div className="wf-splash wf-splash--error" role="alert">
        <p>{phase.message}</p>
        <a href={config.listUrl}>Back to workflows</a>
      </div>
    );
  }
  return (
    <EditorStoreContext.Provider value={store}>
      <EnvContext.Provider value={env}>
        <ReactFlowProvider>
          <Editor />
        </ReactFlowProvider>
      </EnvContext.Provider>
    </EditorStoreContext.Provider>
  );
}

function Editor() {
  useShortcuts();
  useBeforeUnload();
  useLiveLint();
  return (
    <div className="wf-editor">
      <TopBar />
      <div className="wf-main">
        <Palette />
        <div className="wf-stage">
          <Canvas />
          <RunPanel />
        </div>
        <Inspector />
      </div>
      <Dialogs />
      <Toasts />
    </div>
  );
}

/** Catalogue and workflow in parallel; the last run is extra and never blocks the editor. */
function useLoad(store: EditorStore, env: EditorEnv): Phase {
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });
  useEffect(() => {
    const id = env.config.workflowId;
    Promise.all([loadCatalogue(env), id ? loadWorkflow(store, env, id) : Promise.resolve()])
      .then(([catalogue]) => {
        store.setState({ catalogue });
        setPhase({ kind: "ready" });
        if (id) loadLastRun(store, env, id).catch((error: unknown) => reportError(store, "Could not load the last run", error));
      })
      .catch((error: unknown) => setPhase({
        kind: "failed", message: `The editor could not load: ${error instanceof Error ? error.message : String(error)}`,
      }));
  }, [store, env]);
  return phase;
}
