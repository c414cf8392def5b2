import { useReactFlow } from "@xyflow/react";
import { memo, useRef } from "react";
import { cancelRun } from "../actions/run";
import { deleteWorkflow, saveWorkflow } from "../actions/workflow";
import { WorkflowMenu } from "../batch/WorkflowMenu";
import { may } from "../config";
import { useEnv } from "../env";
import { exportFileName, exportPayload, readImport } from "../graph/exportFile";
import { useEditor, useEditorStore } from "../store";
import { Icon, type IconName } from "./icons";
import { useStartRun } from "./run/useStartRun";

/** The editor's top bar. What a role may not do is not shown at all (accounts/permissions.py's
 * row for the person's role, handed over in the page config). */
export const TopBar = memo(function TopBar() {
  const env = useEnv();
  const store = useEditorStore();
  const name = useEditor((s) => s.workflow.name);
  const snap = useEditor((s) => s.snapToGrid);
  const workflowId = useEditor((s) => s.workflow.id);
  const versionsOpen = useEditor((s) => s.sidePanel === "versions");
  const { fitView } = useReactFlow();
  const s = store.getState;
  const canModify = may(env.config, "modify");

  return (
    <header className="wf-topbar">
      <a className="wf-topbar__back" href={env.config.listUrl} title="All workflows">
        ← Workflows
      </a>
      <input
        className="wf-topbar__name"
        aria-label="Workflow name"
        value={name}
        data-testid="workflow-name"
        readOnly={!canModify}
        onChange={(e) => s().rename(e.target.value)}
      />
      {canModify ? (
        <SaveState />
      ) : (
        <span className="wf-chip" data-testid="read-only-badge">
          View only
        </span>
      )}
      <div className="wf-topbar__group">
        {canModify ? <EditButtons /> : null}
        <IconButton
          label="Fit view (Shift+1)"
          testId="fit-button"
          onClick={() => void fitView({ padding: 0.2, duration: 300 })}
          icon="fit"
        />
        {canModify ? (
          <IconButton
            label={`Snap to grid: ${snap ? "on" : "off"}`}
            testId="snap-button"
            pressed={snap}
            onClick={() => s().toggleSnap()}
            icon="grid"
          />
        ) : null}
        <ImportExport canImport={canModify} />
        {workflowId ? (
          <a
            className="wf-btn"
            style={{ textDecoration: "none" }}
            href={`/workflows/${workflowId}/settings/`}
            data-testid="settings-link"
            title="Webhook trigger and API examples"
          >
            Settings
          </a>
        ) : null}
        <IconButton
          label="Keyboard shortcuts (?)"
          testId="help-button"
          onClick={() => s().setDialog("help")}
          icon="help"
        />
        {canModify ? (
          <IconButton
            label="Delete workflow"
            testId="delete-workflow"
            icon="trash"
            onClick={() => {
              if (window.confirm(`Delete “${name}”? This cannot be undone.`)) void deleteWorkflow(store, env);
            }}
          />
        ) : null}
      </div>
      <div className="wf-topbar__group wf-topbar__group--end">
        {workflowId ? (
          <button
            type="button"
            className={`wf-btn${versionsOpen ? " is-on" : ""}`}
            data-testid="versions-button"
            aria-label="Versions"
            title="Versions"
            aria-pressed={versionsOpen}
            onClick={() => s().setSidePanel(versionsOpen ? null : "versions")}
          >
            <Icon name="history" />
            <span className="wf-btn__wide-label"> Versions</span>
          </button>
        ) : null}
        {may(env.config, "publish_template") ? (
          <button
            type="button"
            className="wf-btn"
            data-testid="publish-button"
            aria-label="Publish"
            title="Publish as template: share this workflow in the team's template gallery"
            onClick={() => s().setDialog("publish")}
          >
            <Icon name="share" />
            <span className="wf-btn__wide-label"> Publish</span>
          </button>
        ) : null}
        {workflowId ? (
          <WorkflowMenu
            workflowId={workflowId}
            canExecute={may(env.config, "execute")}
            onBatch={() => s().setDialog("batch")}
          />
        ) : null}
        <RunButtons />
      </div>
    </header>
  );
});

function SaveState() {
  const dirty = useEditor((s) => s.dirty);
  const saving = useEditor((s) => s.saving);
  return (
    <span className={`wf-savestate${dirty ? " is-dirty" : ""}`} data-testid="save-state">
      {saving ? "Saving…" : dirty ? "Unsaved changes" : "All changes saved"}
    </span>
  );
}

function EditButtons() {
  const store = useEditorStore();
  const canUndo = useEditor((s) => s.history.past.length > 0);
  const canRedo = useEditor((s) => s.history.future.length > 0);
  const { fitView } = useReactFlow();
  const s = store.getState;
  return (
    <>
      <IconButton
        label="Undo (Ctrl+Z)"
        testId="undo-button"
        disabled={!canUndo}
        onClick={() => s().undo()}
        icon="undo"
      />
      <IconButton
        label="Redo (Ctrl+Shift+Z)"
        testId="redo-button"
        disabled={!canRedo}
        onClick={() => s().redo()}
        icon="redo"
      />
      <IconButton
        label="Auto-layout (Shift+L)"
        testId="layout-button"
        onClick={() =>
          void s()
            .autoLayout()
            .then(() => requestAnimationFrame(() => void fitView({ padding: 0.2, duration: 300 })))
        }
        icon="layout"
      />
    </>
  );
}

function RunButtons() {
  const env = useEnv();
  const store = useEditorStore();
  const saving = useEditor((s) => s.saving);
  const running = useEditor((s) => s.run.status === "RUNNING");
  const hasRun = useEditor((s) => s.run.executionId !== null);
  const startRun = useStartRun();
  const s = store.getState;
  const canExecute = may(env.config, "execute");
  return (
    <>
      {hasRun ? (
        <button
          type="button"
          className="wf-btn"
          data-testid="run-panel-toggle"
          aria-label="Run log"
          title="Run log"
          onClick={() => s().setRunPanelOpen(!s().runPanelOpen)}
        >
          <Icon name="log" />
          <span className="wf-btn__wide-label"> Run log</span>
        </button>
      ) : null}
      {may(env.config, "modify") ? (
        <button
          type="button"
          className="wf-btn"
          data-testid="save-button"
          disabled={saving}
          onClick={() => void saveWorkflow(store, env)}
        >
          Save
        </button>
      ) : null}
      {!canExecute ? null : running ? (
        <button
          type="button"
          className="wf-btn wf-btn--danger"
          data-testid="cancel-button"
          onClick={() => void cancelRun(store, env)}
        >
          <Icon name="stop" /> Cancel
        </button>
      ) : (
        <button type="button" className="wf-btn wf-btn--primary" data-testid="run-button" onClick={() => startRun()}>
          <Icon name="play" /> Run
        </button>
      )}
    </>
  );
}

function IconButton(props: {
  label: string;
  testId: string;
  icon: IconName;
  disabled?: boolean;
  pressed?: boolean;
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      className={`wf-btn wf-btn--icon${props.pressed ? " is-on" : ""}`}
      title={props.label}
      aria-label={props.label}
      aria-pressed={props.pressed}
      data-testid={props.testId}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      <Icon name={props.icon} />
    </button>
  );
}

/** Export downloads the graph (and the version it was saved as) as JSON; import replaces the
 * graph (undoable, saved as a new version by the next save). */
function ImportExport({ canImport }: { canImport: boolean }) {
  const store = useEditorStore();
  const file = useRef<HTMLInputElement>(null);
  const exportJson = () => {
    const { nodes, edges, workflow } = store.getState();
    const blob = new Blob([JSON.stringify(exportPayload(workflow, nodes, edges), null, 2)], {
      type: "application/json",
    });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = exportFileName(workflow.name, workflow.version);
    link.click();
    URL.revokeObjectURL(link.href);
  };
  const importJson = async (picked: File | undefined) => {
    if (!picked) return;
    const read = readImport(await picked.text());
    if (!read) return store.getState().toast("error", "That file is not a Wireflow graph");
    store.getState().replaceGraph(read.graph, { record: true, dirty: true });
    const from = read.version ? ` (exported at version ${read.version})` : "";
    store.getState().toast("success", `Imported ${read.graph.nodes.length} nodes${from}`);
  };
  return (
    <>
      <IconButton label="Export JSON" testId="export-button" onClick={exportJson} icon="download" />
      {canImport ? (
        <>
          <IconButton label="Import JSON" testId="import-button" onClick={() => file.current?.click()} icon="upload" />
          <input
            ref={file}
            type="file"
            accept="application/json,.json"
            hidden
            data-testid="import-file"
            onChange={(e) => {
              void importJson(e.target.files?.[0]);
              e.target.value = "";
            }}
          />
        </>
      ) : null}
    </>
  );
}
