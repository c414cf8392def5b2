import { useReactFlow } from "@xyflow/react";
import { memo, useRef } from "react";
import { cancelRun } from "../actions/run";
import { deleteWorkflow, saveWorkflow } from "../actions/workflow";
import { useEnv } from "../env";
import { parseGraph, toSaved } from "../graph/clipboard";
import { useEditor, useEditorStore } from "../store";
import { Icon, type IconName } from "./icons";
import { useStartRun } from "./run/useStartRun";

export const TopBar = memo(function TopBar() {
  const env = useEnv();
  const store = useEditorStore();
  const name = useEditor((s) => s.workflow.name);
  const dirty = useEditor((s) => s.dirty);
  const saving = useEditor((s) => s.saving);
  const canUndo = useEditor((s) => s.history.past.length > 0);
  const canRedo = useEditor((s) => s.history.future.length > 0);
  const snap = useEditor((s) => s.snapToGrid);
  const running = useEditor((s) => s.run.status === "RUNNING");
  const hasRun = useEditor((s) => s.run.executionId !== null);
  const workflowId = useEditor((s) => s.workflow.id);
  const { fitView } = useReactFlow();
  const startRun = useStartRun();
  const s = store.getState;

  return (
    <header className="wf-topbar">
      <a className="wf-topbar__back" href={env.config.listUrl} title="All workflows">← Workflows</a>
      <input className="wf-topbar__name" aria-label="Workflow name" value={name} data-testid="workflow-name"
        onChange={(e) => { s().setWorkflow({ name: e.target.value }); store.setState({ dirty: true }); }} />
      <span className={`wf-savestate${dirty ? " is-dirty" : ""}`} data-testid="save-state">
        {saving ? "Saving…" : dirty ? "Unsaved changes" : "All changes saved"}
      </span>
      <div className="wf-topbar__group">
        <IconButton label="Undo (Ctrl+Z)" testId="undo-button" disabled={!canUndo} onClick={() => s().undo()} icon="undo" />
        <IconButton label="Redo (Ctrl+Shift+Z)" testId="redo-button" disabled={!canRedo} onClick={() => s().redo()} icon="redo" />
        <IconButton label="Auto-layout (Shift+L)" testId="layout-button"
          onClick={() => void s().autoLayout().then(() => requestAnimationFrame(() => void fitView({ padding: 0.2, duration: 300 })))} icon="layout" />
        <IconButton label="Fit view (Shift+1)" testId="fit-button" onClick={() => void fitView({ padding: 0.2, duration: 300 })} icon="fit" />
        <IconButton label={`Snap to grid: ${snap ? "on" : "off"}`} testId="snap-button" pressed={snap}
          onClick={() => s().toggleSnap()} icon="grid" />
        <ImportExport />
        {workflowId ? (
          <a className="wf-btn" style={{ textDecoration: "none" }} href={`/workflows/${workflowId}/settings/`}
            data-testid="settings-link"
            title="Webhook trigger and API examples">Settings</a>
        ) : null}
        <IconButton label="Keyboard shortcuts (?)" testId="help-button" onClick={() => s().setDialog("help")} icon="help" />
        <IconButton label="Delete workflow" testId="delete-workflow" icon="trash"
          onClick={() => { if (window.confirm(`Delete “${name}”? This cannot be undone.`)) void deleteWorkflow(store, env); }} />
      </div>
      <div className="wf-topbar__group wf-topbar__group--end">
        {hasRun ? (
          <button type="button" className="wf-btn" data-testid="run-panel-toggle"
            onClick={() => s().setRunPanelOpen(!s().runPanelOpen)}><Icon name="log" /> Run log</button>
        ) : null}
        <button type="button" className="wf-btn" data-testid="save-button" disabled={saving}
          onClick={() => void saveWorkflow(store, env)}>Save</button>
        {running ? (
          <button type="button" className="wf-btn wf-btn--danger" data-testid="cancel-button"
            onClick={() => void cancelRun(store, env)}><Icon name="stop" /> Cancel</button>
        ) : (
          <button type="button" className="wf-btn wf-btn--primary" data-testid="run-button"
            onClick={() => startRun()}><Icon name="play" /> Run</button>
        )}
      </div>
    </header>
  );
});

function IconButton(props: {
  label: string; testId: string; icon: IconName; disabled?: boolean; pressed?: boolean; onClick: () => void;
}) {
  return (
    <button type="button" className={`wf-btn wf-btn--icon${props.pressed ? " is-on" : ""}`} title={props.label}
      aria-label={props.label} aria-pressed={props.pressed} data-testid={props.testId}
      disabled={props.disabled} onClick={props.onClick}><Icon name={props.icon} /></button>
  );
}

/** Export downloads the graph as JSON; import replaces the graph (undoable). */
function ImportExport() {
  const store = useEditorStore();
  const file = useRef<HTMLInputElement>(null);
  const exportJson = () => {
    const { nodes, edges, workflow } = store.getState();
    const blob = new Blob([JSON.stringify({ name: workflow.name, ...toSaved(nodes, edges) }, null, 2)],
      { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${workflow.name.replace(/[^\w-]+/g, "_") || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  };
  const importJson = async (picked: File | undefined) => {
    if (!picked) return;
    let graph = null;
    try {
      graph = parseGraph(JSON.parse(await picked.text()));
    } catch {
      graph = null;
    }
    if (!graph || graph.nodes.length === 0) return store.getState().toast("error", "That file is not a Wireflow graph");
    store.getState().replaceGraph(graph, { record: true, dirty: true });
    store.getState().toast("success", `Imported ${graph.nodes.length} nodes`);
  };
  return (
    <>
      <IconButton label="Export JSON" testId="export-button" onClick={exportJson} icon="download" />
      <IconButton label="Import JSON" testId="import-button" onClick={() => file.current?.click()} icon="upload" />
      <input ref={file} type="file" accept="application/json,.json" hidden data-testid="import-file"
        onChange={(e) => { void importJson(e.target.files?.[0]); e.target.value = ""; }} />
    </>
  );
}
