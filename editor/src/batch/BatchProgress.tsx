import { useEffect, useState } from "react";
import { Picture } from "../components/Picture";
import { explain } from "../actions/errors";
import { useEnv } from "../env";
import { ROWS_SHOWN, cancelBatch, getBatch, resultsUrl } from "./api";
import { isSettled, mediaKind, progressText, segments } from "./progress";
import type { BatchOut, BatchRow, RowOutput } from "./types";

const POLL_MS = 1000;

/** The batch as it runs: the bar (done / failed / running of the total), its rows with their
 * outputs, Cancel, and the results as CSV and ZIP. Followed by polling until it has settled. */
export function BatchProgress({ batchId }: { batchId: string }) {
  const env = useEnv();
  const [batch, setBatch] = useState<BatchOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const found = await getBatch(env, batchId);
        if (stopped) return;
        setBatch(found);
        setError(null);
        if (isSettled(found)) return;
      } catch (failure) {
        if (!stopped) setError(explain(failure).message);
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [env, batchId]);

  const cancel = async () => {
    setCancelling(true);
    try {
      await cancelBatch(env, batchId);
      setBatch(await getBatch(env, batchId));
    } catch (failure) {
      setError(explain(failure).message);
    } finally {
      setCancelling(false);
    }
  };

  return (
    <div className="wf-batch__progress" data-testid="batch-progress" data-status={batch?.status ?? "RUNNING"}>
      {error ? (
        <p className="wf-form__error" role="alert" data-testid="batch-error">
          {error}
        </p>
      ) : null}
      {batch ? (
        <>
          <div
            className="wf-batch__bar"
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={batch.total}
            aria-valuenow={batch.completed + batch.failed}
          >
            {segments(batch).map((s) => (
              <span
                key={s.kind}
                className={`wf-batch__seg wf-batch__seg--${s.kind}`}
                style={{ width: `${s.percent}%` }}
              />
            ))}
          </div>
          <p className="wf-batch__summary">
            <span data-testid="batch-progress-text">{progressText(batch)}</span>
            <span className={`wf-chip wf-chip--${batch.status.toLowerCase()}`} data-testid="batch-status">
              {batch.status}
            </span>
          </p>
          <div className="wf-batch__actions">
            <a className="wf-btn" href={resultsUrl(env, batchId, "csv")} download data-testid="batch-download-csv">
              Download CSV
            </a>
            <a className="wf-btn" href={resultsUrl(env, batchId, "zip")} download data-testid="batch-download-zip">
              Download ZIP
            </a>
            {batch.status === "RUNNING" ? (
              <button
                type="button"
                className="wf-btn wf-btn--danger"
                disabled={cancelling}
                data-testid="batch-cancel"
                onClick={() => void cancel()}
              >
                {cancelling ? "Cancelling…" : "Cancel batch"}
              </button>
            ) : null}
          </div>
          <RowsTable rows={batch.rows} />
          {batch.total > ROWS_SHOWN ? (
            <p className="wf-muted">The first {ROWS_SHOWN} rows are shown; the CSV has them all.</p>
          ) : null}
        </>
      ) : (
        <p className="wf-muted">Starting…</p>
      )}
    </div>
  );
}

function RowsTable({ rows }: { rows: BatchRow[] }) {
  return (
    <table className="wf-batch__table" data-testid="batch-rows-table">
      <thead>
        <tr>
          <th>#</th>
          <th>Inputs</th>
          <th>Status</th>
          <th>Outputs</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.index} data-testid={`batch-row-${row.index}`} data-status={row.status}>
            <td>{row.index}</td>
            <td className="wf-batch__inputs">{Object.values(row.inputs).map(String).join(" · ")}</td>
            <td>
              <span className={`wf-chip wf-chip--${row.status.toLowerCase()}`}>{row.status}</span>
              {row.error ? (
                <div className="wf-batch__error" title={row.error}>
                  {row.error}
                </div>
              ) : null}
            </td>
            <td>
              {row.outputs.map((out) => (
                <Output key={out.nodeId} output={out} />
              ))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Output({ output }: { output: RowOutput }) {
  return (
    <div className="wf-batch__output">
      {output.urls.map((url) => {
        const kind = mediaKind(url);
        return kind === "image" ? (
          <a key={url} href={url} target="_blank" rel="noreferrer">
            <Picture url={url} alt={output.label} />
          </a>
        ) : (
          <a key={url} href={url} target="_blank" rel="noreferrer">
            {kind === "video" ? "▶ video" : "link"}
          </a>
        );
      })}
      {output.texts.map((text, i) => (
        <span key={i} className="wf-batch__text-out" title={text}>
          {text}
        </span>
      ))}
    </div>
  );
}
