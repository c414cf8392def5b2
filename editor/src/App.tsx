import { ReactFlowProvider } from "@xyflow/react";
import { type ReactNode, useEffect, useState } from "react";
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
import { VersionsPanel } from "./components/versions/VersionsPanel";
import { isReadOnly, viewGraph } from "./config";
import { type EditorEnv, EnvContext } from "./env";
import { useBeforeUnload, useShortcuts } from "./hooks/useShortcuts";
import { useLiveLint } from "./hooks/useLiveLint";
import { LiveRun } from "./run/live";
import { RunPage } from "./runpage/RunPage";
import { createEditorStore, type EditorStore, EditorStoreContext, useEditor } from "./store";

type Phase = { kind: "loading" } | { kind: "ready" } | { kind: "failed"; message: string };

/** The editor (`mode: "edit"`) or only its canvas, read-only (`mode: "view"`): one component
 * tree, one store, the same nodes and styles. */
export function App({ config }: { config: EditorConfig }) {
  const view = config.mode === "view";
  const [store] = useState<EditorStore>(() => createEditorStore({ readOnly: isReadOnly(config) }));
  const [env] = useState<EditorEnv>(() => {
    const api = new ApiClient(config.apiBase, config.csrfToken);
    return { api, config, live: new LiveRun(store, api) };
  });
  const phase = useLoad(store, env);
  useEffect(() => () => env.live.stop(), [env]);

  if (phase.kind === "loading") {
    return (
      <div className={view ? "wf-view wf-view--splash" : "wf-splash"}>
        {view ? "Loading the graph…" : "Loading the editor…"}
      </div>
    );
  }
  if (phase.kind === "failed") {
    return (
      <div className={view ? "wf-view wf-view--splash wf-splash--error" : "wf-splash wf-splash--error"} role="alert">
        <p>{phase.message}</p>
        {view ? null : <a href={config.listUrl}>Back to workflows</a>}
      </div>
    );
  }
  return (
    <Providers store={store} env={env}>
      {view && config.executionId ? <RunPage executionId={config.executionId} /> : view ? <GraphView /> : <Editor />}
    </Providers>
  );
}

function Providers({ store, env, children }: { store: EditorStore; env: EditorEnv; children: ReactNode }) {
  return (
    <EditorStoreContext.Provider value={store}>
      <EnvContext.Provider value={env}>
        <ReactFlowProvider>{children}</ReactFlowProvider>
      </EnvContext.Provider>
    </EditorStoreContext.Provider>
  );
}

function Editor() {
  useShortcuts();
  useBeforeUnload();
  useLiveLint();
  const readOnly = useEditor((s) => s.readOnly);
  const versions = useEditor((s) => s.sidePanel === "versions");
  return (
    <div className="wf-editor">
      <TopBar />
      <div className={`wf-main${readOnly ? " wf-main--readonly" : ""}${versions ? " wf-main--versions" : ""}`}>
        {/* The Versions panel takes the palette's place: the inspector stays for a look at a
            compared node's settings. */}
        {versions ? <VersionsPanel /> : readOnly ? null : <Palette />}
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

/** View mode: the canvas alone (pan, zoom, fit; a picked node's settings, read-only). */
function GraphView() {
  return (
    <div className="wf-view" data-testid="graph-view">
      <div className="wf-stage">
        <Canvas minimap={false} />
      </div>
      <Inspector floating />
      <Toasts />
    </div>
  );
}

/** Catalogue and graph in parallel; the last run is extra and never blocks the editor. View
 * mode's graph comes with the page. */
function useLoad(store: EditorStore, env: EditorEnv): Phase {
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });
  useEffect(() => {
    const { config } = env;
    const id = config.mode === "view" ? null : config.workflowId;
    if (config.mode === "view") store.getState().replaceGraph(viewGraph(config));
    store.getState().setPublishedTemplateId(config.publishedTemplateId ?? null);
    Promise.all([loadCatalogue(env), id ? loadWorkflow(store, env, id) : Promise.resolve()])
      .then(([catalogue]) => {
        store.getState().setCatalogue(catalogue);
        setPhase({ kind: "ready" });
        // A run's page: its node statuses, live while it runs (a snapshot first).
        if (config.mode === "view" && config.executionId) env.live.follow(config.executionId);
        if (id)
          loadLastRun(store, env, id).catch((error: unknown) =>
            reportError(store, "Could not load the last run", error),
          );
      })
      .catch((error: unknown) =>
        setPhase({
          kind: "failed",
          message: `The ${config.mode === "view" ? "graph" : "editor"} could not load: ${error instanceof Error ? error.message : String(error)}`,
        }),
      );
  }, [store, env]);
  return phase;
}
