/**
 * The run page (`/runs/<id>/`): the run's graph on the editor's read-only canvas, each node
 * painted with its status from the run slice (live over the WebSocket while it runs), then the
 * timeline (a bar per node) and each node's input, output, attempts, error and credits, and the
 * actions the person's role allows: Re-run, Retry from failed, Cancel.
 */
import { memo, useEffect, useMemo, useState } from "react";
import type { NodeState } from "../api/types";
import { Canvas } from "../components/Canvas";
import { Inspector } from "../components/inspector/Inspector";
import { OutputPreview } from "../components/nodes/OutputPreview";
import { Toasts } from "../components/Toasts";
import { useEnv } from "../env";
import { useEditor, useEditorStore } from "../store";
import { cancelRun, rerun } from "./actions";
import { formatCreditsUsed } from "../components/theme";
import { actionsFor, barOf, byStart, formatDuration, preview, spanOf } from "./timeline";
import type { ExecutionDetails, NodeDetail } from "./types";
import "./runpage.css";
import { useNow } from "../hooks/useNow";

export function RunPage({ executionId }: { executionId: string }) {
  const details = useDetails(executionId);
  return (
    <div className="wf-runpage" data-testid="run-page">
      <RunBar executionId={executionId} />
      <div className="wf-view wf-runpage__canvas" data-testid="graph-view">
        <div className="wf-stage">
          <Canvas minimap={false} />
        </div>
        <Inspector floating />
      </div>
      <Timeline />
      <NodeList details={details} />
      <Toasts />
    </div>
  );
}

/** The details endpoint (inputs, attempt logs), read again whenever a node's status changes. */
function useDetails(executionId: string): ExecutionDetails | null {
  const env = useEnv();
  const key = useEditor((s) =>
    Object.values(s.run.nodes)
      .map((n) => `${n.nodeId}:${n.status}`)
      .join(","),
  );
  const [details, setDetails] = useState<ExecutionDetails | null>(null);
  useEffect(() => {
    let live = true;
    env.api
      .get<ExecutionDetails>(`/workflows/executions/${encodeURIComponent(executionId)}`)
      .then((found) => {
        if (live) setDetails(found);
      })
      .catch(() => {
        /* the live status still shows; the next change tries again */
      });
    return () => {
      live = false;
    };
  }, [env, executionId, key]);
  return details;
}

const RunBar = memo(function RunBar({ executionId }: { executionId: string }) {
  const store = useEditorStore();
  const env = useEnv();
  const run = useEditor((s) => s.run);
  const [busy, setBusy] = useState(false);
  const allowed = env.config.permissions?.execute ?? false;
  const can = actionsFor(run.status);
  const now = useNow(run.status === "RUNNING");
  const span = spanOf(run.startTime, run.endTime, Object.values(run.nodes), now);
  const act = (work: () => Promise<unknown>) => {
    setBusy(true);
    void work().finally(() => setBusy(false));
  };
  return (
    <header className="wf-runpage__bar">
      <span className={`wf-chip wf-chip--${(run.status ?? "pending").toLowerCase()}`} data-testid="run-status">
        {run.status ?? "Loading…"}
      </span>
      <span className="wf-muted" data-testid="run-duration">
        {run.status ? formatDuration(span.end - span.start) : ""}
      </span>
      <span className="wf-muted" data-testid="run-credits">
        {formatCreditsUsed(run.creditsUsed)} credits
      </span>
      {run.error ? (
        <span className="wf-runpage__error" data-testid="run-error">
          {run.error}
        </span>
      ) : null}
      <span className="wf-runpage__actions">
        {allowed && can.cancel ? (
          <button
            type="button"
            className="wf-btn"
            disabled={busy}
            data-testid="cancel-run"
            onClick={() => act(() => cancelRun(store, env, executionId))}
          >
            Cancel
          </button>
        ) : null}
        {allowed && can.retry ? (
          <button
            type="button"
            className="wf-btn wf-btn--primary"
            disabled={busy}
            data-testid="retry-from-failed"
            title="Keep what completed (not charged again) and run the rest"
            onClick={() => act(() => rerun(store, env, executionId, true))}
          >
            Retry from failed
          </button>
        ) : null}
        {allowed && can.rerun ? (
          <button
            type="button"
            className="wf-btn"
            disabled={busy}
            data-testid="rerun"
            title="Run the same graph, inputs and version again"
            onClick={() => act(() => rerun(store, env, executionId, false))}
          >
            Re-run
          </button>
        ) : null}
      </span>
    </header>
  );
});

function useOrderedNodes(): NodeState[] {
  const nodes = useEditor((s) => s.run.nodes);
  const orderKey = useEditor((s) => s.nodes.map((n) => n.id).join("\u0000"));
  return useMemo(() => byStart(Object.values(nodes), orderKey.split("\u0000")), [nodes, orderKey]);
}

function Timeline() {
  const run = useEditor((s) => s.run);
  const rows = useOrderedNodes();
  const now = useNow(run.status === "RUNNING");
  const span = spanOf(run.startTime, run.endTime, rows, now);
  if (!rows.length) return <p className="wf-muted wf-runpage__loading">Loading the run…</p>;
  return (
    <section className="wf-runpage__timeline" aria-label="Timeline">
      <h2>Timeline</h2>
      <ol className="wf-timeline">
        {rows.map((row) => {
          const bar = barOf(row, span, now);
          return (
            <li
              key={row.nodeId}
              className={`wf-timeline__row wf-timeline__row--${row.status.toLowerCase()}`}
              data-testid={`timeline-${row.nodeId}`}
            >
              <span className="wf-timeline__label" title={row.label ?? row.nodeId}>
                {row.label ?? row.nodeId}
              </span>
              <span className="wf-timeline__track">
                {bar ? (
                  <span className="wf-timeline__bar" style={{ left: `${bar.left}%`, width: `${bar.width}%` }} />
                ) : null}
              </span>
              <span className="wf-timeline__meta">
                {row.status.toLowerCase()}
                {row.durationMs ? ` · ${formatDuration(row.durationMs)}` : ""}
                {row.cached ? " · cached" : ""}
              </span>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function NodeList({ details }: { details: ExecutionDetails | null }) {
  const rows = useOrderedNodes();
  const selected = useEditor((s) => s.selectedNodeIds);
  const byId = useMemo(() => new Map((details?.nodeStates ?? []).map((n) => [n.nodeId, n])), [details]);
  if (!rows.length) return null;
  return (
    <section className="wf-runpage__nodes" aria-label="Nodes">
      <h2>Nodes</h2>
      {rows.map((row) => (
        <NodeCard key={row.nodeId} state={row} detail={byId.get(row.nodeId)} selected={selected.includes(row.nodeId)} />
      ))}
    </section>
  );
}

function NodeCard({
  state,
  detail,
  selected,
}: {
  state: NodeState;
  detail: NodeDetail | undefined;
  selected: boolean;
}) {
  const attempts = detail?.attemptsLog ?? [];
  return (
    <article
      className={`wf-runnode${selected ? " is-selected" : ""}`}
      data-testid={`run-node-${state.nodeId}`}
      data-status={state.status}
      data-cached={state.cached ? "true" : "false"}
    >
      <header>
        <strong>{state.label ?? state.nodeId}</strong>
        <span className="wf-muted wf-mono">{state.nodeType}</span>
        <span className={`wf-chip wf-chip--${state.status.toLowerCase()}`} data-testid="node-status">
          {state.status}
        </span>
        {state.cached ? (
          <span
            className="wf-runnode__cached"
            data-testid="cached-badge"
            title="Reused from the run this one retries: not run again, not charged"
          >
            cached
          </span>
        ) : null}
        <span className="wf-muted">{formatDuration(state.durationMs)}</span>
        <span className="wf-muted" data-testid="node-credits">
          {formatCreditsUsed(state.credits)} credits
        </span>
        <span className="wf-muted">
          {state.attempts ?? 0} attempt{state.attempts === 1 ? "" : "s"}
        </span>
      </header>
      {state.error ? (
        <p className="wf-runnode__error" data-testid="node-error">
          {state.error}
        </p>
      ) : null}
      <div className="wf-runnode__body">
        {state.status === "COMPLETED" ? (
          <div className="wf-runnode__output">
            <OutputPreview state={state} />
          </div>
        ) : null}
        {detail?.input ? (
          <details className="wf-runnode__input">
            <summary>Input</summary>
            <pre>{preview(detail.input)}</pre>
          </details>
        ) : null}
        {attempts.length > 1 || attempts.some((a) => a.error) ? (
          <details className="wf-runnode__attempts" open={state.status === "FAILED"}>
            <summary>Attempts</summary>
            <ol>
              {attempts.map((a) => (
                <li key={a.attempt}>
                  #{a.attempt} {a.startedAt ? new Date(a.startedAt).toLocaleTimeString() : ""}
                  {a.httpStatus ? ` · HTTP ${a.httpStatus}` : ""}
                  {a.error ? ` · ${a.error}` : " · ok"}
                </li>
              ))}
            </ol>
          </details>
        ) : null}
      </div>
    </article>
  );
}
