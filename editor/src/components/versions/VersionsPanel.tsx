import { memo, useCallback, useEffect, useState } from "react";
import { explain } from "../../actions/errors";
import { compareWithLatest, listVersions, restoreRefusal, restoreVersion, VERSIONS_PAGE } from "../../actions/versions";
import type { VersionSummary } from "../../api/sharing";
import { may } from "../../config";
import { useEnv } from "../../env";
import { useEditor, useEditorStore } from "../../store";
import { Dialog } from "../Dialog";
import { CompareSummary } from "./CompareSummary";
import { VersionRow } from "./VersionRow";

type Load =
  | { kind: "loading" }
  | { kind: "ready"; versions: VersionSummary[]; more: boolean }
  | { kind: "failed"; message: string };

/**
 * The Versions side panel: every saved version (newest first) with its tag, author and time;
 * tag and untag, compare with the latest saved version (drawn on the canvas), restore. Viewers
 * see the list and the comparisons only.
 */
export const VersionsPanel = memo(function VersionsPanel() {
  const env = useEnv();
  const store = useEditorStore();
  const workflowId = useEditor((s) => s.workflow.id);
  const comparing = useEditor((s) => s.compare?.number ?? null);
  const [versions, reload, loadOlder] = useVersions(workflowId);
  const [restoring, setRestoring] = useState<number | null>(null);
  const canModify = may(env.config, "modify");
  const close = () => store.getState().setSidePanel(null);

  const compare = useCallback(
    async (number: number, latest: number) => {
      if (!workflowId) return;
      try {
        await compareWithLatest(store, env, workflowId, number, latest);
      } catch (error) {
        store.getState().toast("error", `Could not compare version ${number}: ${explain(error).message}`);
      }
    },
    [store, env, workflowId],
  );

  return (
    <aside className="wf-versions" data-testid="versions-panel" aria-label="Versions">
      <header className="wf-versions__head">
        <h2>Versions</h2>
        <button
          type="button"
          className="wf-btn wf-btn--icon"
          aria-label="Close versions"
          data-testid="versions-close"
          onClick={close}
        >
          ×
        </button>
      </header>
      <CompareSummary />
      {versions.kind === "loading" ? <p className="wf-versions__note wf-muted">Loading versions…</p> : null}
      {versions.kind === "failed" ? (
        <div className="wf-versions__note" role="alert">
          <p className="wf-form__error">Could not load the versions: {versions.message}</p>
          <button type="button" className="wf-btn wf-btn--small" onClick={reload}>
            Try again
          </button>
        </div>
      ) : null}
      {versions.kind === "ready" && versions.versions.length === 0 ? (
        <p className="wf-versions__note wf-muted">No versions yet: every save that changes the graph makes one.</p>
      ) : null}
      {versions.kind === "ready" ? (
        <ol className="wf-versions__list">
          {versions.versions.map((v, i) => (
            <VersionRow
              key={v.number}
              version={v}
              isLatest={i === 0}
              comparing={comparing === v.number}
              canModify={canModify}
              onChanged={reload}
              onCompare={() => void compare(v.number, versions.versions[0].number)}
              onRestore={() => setRestoring(v.number)}
            />
          ))}
        </ol>
      ) : null}
      {versions.kind === "ready" && versions.more ? (
        <button
          type="button"
          className="wf-btn wf-btn--small wf-versions__more"
          data-testid="versions-older"
          onClick={loadOlder}
        >
          Show older versions
        </button>
      ) : null}
      {restoring !== null && workflowId ? (
        <RestoreDialog workflowId={workflowId} number={restoring} onClose={() => setRestoring(null)} />
      ) : null}
    </aside>
  );
});

/** The list, loaded when the panel opens and again after every save (updatedAt moves); older
 * pages on demand. */
function useVersions(workflowId: string | null): [Load, () => void, () => void] {
  const env = useEnv();
  const store = useEditorStore();
  const updatedAt = useEditor((s) => s.workflow.updatedAt);
  const [load, setLoad] = useState<Load>({ kind: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    if (!workflowId) return;
    let current = true;
    listVersions(env, workflowId)
      .then((versions) => {
        if (current) setLoad({ kind: "ready", versions, more: versions.length === VERSIONS_PAGE });
      })
      .catch((error: unknown) => {
        if (current) setLoad({ kind: "failed", message: explain(error).message });
      });
    return () => {
      current = false;
    };
  }, [env, workflowId, updatedAt, round]);
  const loadOlder = useCallback(() => {
    if (!workflowId || load.kind !== "ready") return;
    const shown = load.versions;
    listVersions(env, workflowId, shown[shown.length - 1]?.number)
      .then((older) => setLoad({ kind: "ready", versions: [...shown, ...older], more: older.length === VERSIONS_PAGE }))
      .catch((error: unknown) =>
        store.getState().toast("error", `Could not load older versions: ${explain(error).message}`),
      );
  }, [env, store, workflowId, load]);
  return [load, useCallback(() => setRound((r) => r + 1), []), loadOlder];
}

function RestoreDialog({ workflowId, number, onClose }: { workflowId: string; number: number; onClose: () => void }) {
  const env = useEnv();
  const store = useEditorStore();
  const dirty = useEditor((s) => s.dirty);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const restore = async () => {
    setBusy(true);
    setError(null);
    try {
      await restoreVersion(store, env, workflowId, number);
      onClose();
    } catch (failure) {
      setError(restoreRefusal(failure));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Restore version ${number}?`} onClose={onClose} testId="restore-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void restore();
        }}
      >
        <p>
          The workflow gets a new version with the graph of version {number}. Nothing is lost: the versions after it
          stay in the list.
        </p>
        {dirty ? <p className="wf-form__error">Your unsaved changes on the canvas will be replaced.</p> : null}
        {error ? (
          <p className="wf-form__error" role="alert" data-testid="restore-error">
            {error}
          </p>
        ) : null}
        <div className="wf-dialog__actions">
          <button type="button" className="wf-btn" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            className="wf-btn wf-btn--primary"
            data-testid="restore-confirm"
            disabled={busy}
            autoFocus
          >
            {busy ? "Restoring…" : `Restore version ${number}`}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
