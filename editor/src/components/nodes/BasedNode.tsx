import { NodeToolbar, Position, type NodeProps } from "@xyflow/react";
import { type CSSProperties, memo, useMemo } from "react";
import { runWorkflow } from "../../actions/run";
import type { NodeState } from "../../api/types";
import { useEnv } from "../../env";
import { summaryOf } from "../../graph/schema";
import type { BasedNode } from "../../graph/types";
import { useEditor, useEditorStore } from "../../store";
import { MediaPreview } from "../../upload/MediaPreview";
import { categoryColour, formatCredits } from "../theme";
import { OutputPreview } from "./OutputPreview";
import { Ports } from "./Ports";

const NO_ALIASES: Record<string, string> = {};

function BasedNodeView({ id, data, selected }: NodeProps<BasedNode>) {
  // Narrow subscriptions: this node re-renders for its own spec, run state and issues only.
  const spec = useEditor((s) => s.catalogue.get(data.nodeType));
  const state = useEditor((s) => s.run.nodes[id]);
  const streamed = useEditor((s) => s.run.streams[id]);
  const issues = useEditor((s) => s.issues.nodes[id]);
  const diff = useEditor((s) => s.compare?.marks[id]);
  const readOnly = useEditor((s) => s.readOnly);
  const summary = useMemo(() => (spec ? summaryOf(spec.paramsSchema, data.params) : []), [spec, data.params]);
  const status = state?.status.toLowerCase() ?? "idle";
  const colour = categoryColour(spec?.category ?? data.category);

  return (
    <div
      className={`wf-node wf-node--${status}${selected ? " is-selected" : ""}${issues ? " has-issues" : ""}${diff ? ` wf-node--diff-${diff}` : ""}`}
      data-node-type={data.nodeType}
      data-status={status}
      data-testid={`node-${id}`}
      data-diff={diff}
      style={{ "--wf-cat": colour } as CSSProperties}
    >
      {/* Only a selected node has its toolbar: each NodeToolbar watches every node of React
          Flow's store, and a hundred hidden ones made each drag frame scan 100 x 100 nodes. */}
      {readOnly || !selected ? null : <NodeActions id={id} runnable={!!spec} />}
      {diff ? <span className="wf-node__diff">{DIFF_TEXT[diff]}</span> : null}
      <header className="wf-node__head">
        <span className="wf-node__dot" />
        <span className="wf-node__label" title={data.label}>
          {data.label}
        </span>
        {state ? <StatusChip state={state} /> : null}
      </header>
      <div className="wf-node__meta">
        <span>{spec && spec.label !== data.label ? spec.label : (spec?.category ?? data.nodeType)}</span>
        {spec && spec.credits > 0 ? <span>{formatCredits(spec.credits, spec.creditUnit)}</span> : null}
      </div>
      {state?.status === "RUNNING" ? <Progress value={state.progress} /> : null}
      {spec ? (
        <Ports inputs={spec.inputs} outputs={spec.outputs} aliases={spec.outputAliases ?? NO_ALIASES} />
      ) : (
        <p className="wf-node__unknown">Unknown node type {data.nodeType}</p>
      )}
      {summary.length ? (
        <dl className="wf-node__summary">
          {summary.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      <MediaPreview nodeType={data.nodeType} params={data.params} />
      {state?.error ? (
        <p className="wf-node__error" data-testid="node-error">
          {state.error}
        </p>
      ) : null}
      {state?.status === "RUNNING" && streamed ? (
        <p
          className="wf-preview wf-preview--text wf-preview--streaming nowheel"
          data-testid="node-stream-text"
          aria-live="polite"
        >
          {streamed.length > 400 ? `…${streamed.slice(-400)}` : streamed}
        </p>
      ) : null}
      {state?.status === "COMPLETED" ? <OutputPreview state={state} primaryType={spec?.outputs[0]?.type} /> : null}
      {issues ? (
        <ul className="wf-node__issues" data-testid="node-issues">
          {issues.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

const DIFF_TEXT = { added: "Added", changed: "Changed", removed: "Removed" } as const;

const STATUS_TEXT: Record<string, string> = {
  PENDING: "Pending",
  RUNNING: "Running",
  COMPLETED: "Done",
  FAILED: "Failed",
  SKIPPED: "Skipped",
  CANCELLED: "Cancelled",
};

function StatusChip({ state }: { state: NodeState }) {
  // A result reused from an earlier run (Retry from failed, a targeted run) says so: it cost 0.
  const cached = state.status === "COMPLETED" && state.cached === true;
  const seconds = state.durationMs && !cached ? ` · ${(state.durationMs / 1000).toFixed(1)}s` : "";
  return (
    <span
      className={`wf-chip wf-chip--${state.status.toLowerCase()}`}
      data-testid="node-status-chip"
      title={cached ? "Reused from an earlier run: not charged again" : undefined}
    >
      {cached ? "Cached" : STATUS_TEXT[state.status]}
      {seconds}
    </span>
  );
}

function Progress({ value }: { value: number | null | undefined }) {
  const known = typeof value === "number";
  const pct = known ? Math.round(Math.min(1, Math.max(0, value > 1 ? value / 100 : value)) * 100) : 0;
  return (
    <div className={`wf-progress${known ? "" : " wf-progress--busy"}`} role="progressbar" aria-valuenow={pct}>
      <span style={{ width: known ? `${pct}%` : undefined }} />
    </div>
  );
}

function NodeActions({ id, runnable }: { id: string; runnable: boolean }) {
  const store = useEditorStore();
  const env = useEnv();
  const running = useEditor((s) => s.run.status === "RUNNING");
  return (
    <NodeToolbar isVisible position={Position.Top} className="wf-node-toolbar">
      {runnable ? (
        <button
          type="button"
          disabled={running}
          data-testid="run-to-here"
          onClick={() => void runWorkflow(store, env, { targetNodeId: id })}
        >
          ▶ Run to here
        </button>
      ) : null}
      <button type="button" onClick={() => store.getState().duplicateSelected()}>
        Duplicate
      </button>
      <button type="button" className="danger" onClick={() => store.getState().deleteSelected()}>
        Delete
      </button>
    </NodeToolbar>
  );
}

export const BasedNodeComponent = memo(BasedNodeView);
