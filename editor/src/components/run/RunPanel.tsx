import { memo, useMemo } from "react";
import type { NodeState } from "../../api/types";
import { useNow } from "../../hooks/useNow";
import { useEditor, useEditorList, useEditorStore } from "../../store";
import { runPageUrl } from "../../runpage/actions";
import { formatCreditsUsed } from "../theme";
import { OutputPreview } from "../nodes/OutputPreview";

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

/** The run log: one bar per node from its start to its finish, then errors and outputs. */
export const RunPanel = memo(function RunPanel() {
  const open = useEditor((s) => s.runPanelOpen && s.run.executionId !== null);
  return open ? <RunLog /> : null;
});

function RunLog() {
  const run = useEditor((s) => s.run);
  // Node ids and labels in canvas order: dragging a node does not re-render the log.
  const ids = useEditorList((s) => s.nodes.map((n) => n.id));
  const names = useEditorList((s) => s.nodes.map((n) => n.data.label));
  const labels = useMemo(() => ids.map((id, i) => [id, names[i]] as const), [ids, names]);
  const now = useNow(run.status === "RUNNING");
  const store = useEditorStore();
  const rows = useMemo(() => {
    const order = new Map(labels.map(([id], i) => [id, i]));
    return Object.values(run.nodes).sort(
      (a, b) =>
        (ms(a.startedAt) ?? Infinity) - (ms(b.startedAt) ?? Infinity) ||
        (order.get(a.nodeId) ?? 0) - (order.get(b.nodeId) ?? 0),
    );
  }, [run.nodes, labels]);

  const start = ms(run.startTime) ?? Math.min(...rows.map((r) => ms(r.startedAt) ?? now));
  const end = Math.max(
    ms(run.endTime) ?? 0,
    ...rows.map((r) => ms(r.finishedAt) ?? (r.status === "RUNNING" ? now : 0)),
    start + 1,
  );
  const labelOf = (id: string) => labels.find(([nodeId]) => nodeId === id)?.[1] ?? id;

  return (
    <section className="wf-runpanel" data-testid="run-panel" aria-label="Run log">
      <header>
        <strong>Run</strong>
        <span className={`wf-chip wf-chip--${(run.status ?? "pending").toLowerCase()}`} data-testid="run-status">
          {run.status ?? "…"}
        </span>
        <span className="wf-muted">{((end - start) / 1000).toFixed(1)} s</span>
        {run.creditsUsed != null ? (
          <span className="wf-muted">{formatCreditsUsed(run.creditsUsed)} credits</span>
        ) : null}
        <span className="wf-muted wf-mono">{run.executionId}</span>
        {run.executionId ? (
          <a
            className="wf-runpanel__link"
            href={runPageUrl(run.executionId)}
            target="_blank"
            rel="noreferrer"
            data-testid="run-page-link"
          >
            Run page ↗
          </a>
        ) : null}
        <button
          type="button"
          className="wf-btn wf-btn--icon"
          aria-label="Close run log"
          onClick={() => store.getState().setRunPanelOpen(false)}
        >
          ×
        </button>
      </header>
      {run.error ? <p className="wf-runpanel__error">{run.error}</p> : null}
      <ol className="wf-timeline">
        {rows.map((row) => (
          <TimelineRow
            key={row.nodeId}
            row={row}
            label={row.label ?? labelOf(row.nodeId)}
            start={start}
            span={end - start}
            now={now}
          />
        ))}
      </ol>
    </section>
  );
}

function TimelineRow({
  row,
  label,
  start,
  span,
  now,
}: {
  row: NodeState;
  label: string;
  start: number;
  span: number;
  now: number;
}) {
  const from = ms(row.startedAt);
  const to = ms(row.finishedAt) ?? (row.status === "RUNNING" ? now : from);
  const left = from === null ? 0 : ((from - start) / span) * 100;
  const width = from === null || to === null ? 0 : Math.max(((to - from) / span) * 100, 0.8);
  return (
    <li
      className={`wf-timeline__row wf-timeline__row--${row.status.toLowerCase()}`}
      data-testid={`timeline-${row.nodeId}`}
    >
      <span className="wf-timeline__label" title={label}>
        {label}
      </span>
      <span className="wf-timeline__track">
        <span className="wf-timeline__bar" style={{ left: `${left}%`, width: `${width}%` }} />
      </span>
      <span className="wf-timeline__meta">
        {row.status.toLowerCase()}
        {row.durationMs ? ` · ${(row.durationMs / 1000).toFixed(2)} s` : ""}
        {row.credits ? ` · ${formatCreditsUsed(row.credits)} cr` : ""}
      </span>
      {row.error ? <span className="wf-timeline__error">{row.error}</span> : null}
      <span className="wf-timeline__output">{row.status === "COMPLETED" ? <OutputPreview state={row} /> : null}</span>
    </li>
  );
}
