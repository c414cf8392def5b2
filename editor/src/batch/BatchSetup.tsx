import { type KeyboardEvent, useEffect, useMemo, useState } from "react";
import { explain } from "../actions/errors";
import { saveWorkflow } from "../actions/workflow";
import { useEnv } from "../env";
import { runInputRows } from "../run/inputs";
import { useEditorStore } from "../store";
import { createBatch, estimateRun } from "./api";
import { CsvError, type InputNode, csvHeaderFor, parseCsv, previewRows } from "./csv";
import { batchCredits } from "./progress";

const MAX_FILE_BYTES = 5 * 1024 * 1024; // settings.BATCH_CSV_MAX_BYTES' default
const MAX_CONCURRENCY = 50;

/** The rows (a CSV file or pasted text), their preview, the estimate and the concurrency. */
export function BatchSetup({ onStarted, onCancel }: { onStarted: (batchId: string) => void; onCancel: () => void }) {
  const env = useEnv();
  const store = useEditorStore();
  const inputs = useMemo<InputNode[]>(
    () =>
      runInputRows(store.getState().nodes, store.getState().catalogue).map((r) => ({
        nodeId: r.nodeId,
        label: r.label,
      })),
    [store],
  );
  const [text, setText] = useState(() => `${csvHeaderFor(inputs)}\n`);
  const [concurrency, setConcurrency] = useState(5);
  const [perRun, setPerRun] = useState<{ credits: number; available: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const workflowId = store.getState().workflow.id;

  useEffect(() => {
    if (!workflowId) return;
    estimateRun(env, workflowId)
      .then((e) => setPerRun({ credits: e.estimatedCredits, available: e.availableCredits }))
      .catch(() => setPerRun(null));
  }, [env, workflowId]);

  const parsed = useMemo(() => {
    try {
      return { preview: previewRows(parseCsv(text), inputs), problem: null };
    } catch (e) {
      return { preview: null, problem: e instanceof CsvError ? e.message : String(e) };
    }
  }, [text, inputs]);
  const preview = parsed.preview;
  const rows = preview?.total ?? 0;

  const pickFile = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_FILE_BYTES) return setError(`The file is over ${MAX_FILE_BYTES / 1024 / 1024} MB`);
    setError(null);
    setText(await file.text());
  };

  const submit = async () => {
    if (busy || rows === 0) return;
    setBusy(true);
    setError(null);
    try {
      if (store.getState().dirty || !store.getState().workflow.id) {
        if (!(await saveWorkflow(store, env))) throw new Error("The workflow could not be saved");
      }
      const created = await createBatch(env, store.getState().workflow.id as string, text, concurrency);
      onStarted(created.batchId);
    } catch (failure) {
      setError(explain(failure).message);
      setBusy(false);
    }
  };
  // Enter in the rows' text is a new line; Ctrl/⌘ + Enter runs from there too.
  const onTextKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      void submit();
    }
  };

  return (
    <form
      className="wf-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <p className="wf-muted">
        One run of the saved workflow per row. The first line names the inputs (their labels or node ids):{" "}
        {inputs.length ? inputs.map((i) => i.label).join(", ") : "this workflow has no input nodes"}.
      </p>
      {error ? (
        <p className="wf-form__error" role="alert" data-testid="batch-error">
          {error}
        </p>
      ) : null}
      <div className="wf-field">
        <label htmlFor="batch-rows">Rows (CSV)</label>
        <textarea
          id="batch-rows"
          className="wf-batch__text"
          rows={6}
          value={text}
          spellCheck={false}
          data-testid="batch-rows"
          disabled={busy}
          onKeyDown={onTextKey}
          onChange={(e) => {
            setText(e.target.value);
            setError(null);
          }}
        />
        <span className="wf-field__help">
          Paste rows, or{" "}
          <label className="wf-batch__file">
            choose a CSV file
            <input
              type="file"
              accept=".csv,text/csv"
              data-testid="batch-file"
              hidden
              onChange={(e) => {
                void pickFile(e.target.files?.[0]);
                e.target.value = "";
              }}
            />
          </label>
        </span>
      </div>
      {parsed.problem ? (
        <p className="wf-field__error" role="alert">
          {parsed.problem}
        </p>
      ) : null}
      {preview ? <PreviewTable preview={preview} inputs={inputs} /> : null}
      <div className="wf-field wf-batch__settings">
        <label htmlFor="batch-concurrency">At once</label>
        <input
          id="batch-concurrency"
          type="number"
          min={1}
          max={MAX_CONCURRENCY}
          value={concurrency}
          data-testid="batch-concurrency"
          disabled={busy}
          onChange={(e) =>
            setConcurrency(Math.min(MAX_CONCURRENCY, Math.max(1, Math.round(Number(e.target.value) || 1))))
          }
        />
        <span className="wf-muted" data-testid="batch-estimate">
          {rows} row{rows === 1 ? "" : "s"}
          {perRun
            ? ` · about ${batchCredits(perRun.credits, rows)} credits (${perRun.credits} a run; ${perRun.available} available)`
            : ""}
        </span>
        {perRun && batchCredits(perRun.credits, rows) > perRun.available ? (
          <span className="wf-field__error" data-testid="batch-short">
            More than the team has: the batch would be refused.
          </span>
        ) : null}
      </div>
      <div className="wf-dialog__actions">
        <button type="button" className="wf-btn" onClick={onCancel}>
          Close
        </button>
        <button
          type="submit"
          className="wf-btn wf-btn--primary"
          disabled={busy || rows === 0}
          data-testid="batch-submit"
        >
          {busy ? "Starting…" : `▶ Run ${rows} row${rows === 1 ? "" : "s"}`}
        </button>
      </div>
    </form>
  );
}

function PreviewTable({
  preview,
  inputs,
}: {
  preview: NonNullable<ReturnType<typeof previewRows>>;
  inputs: InputNode[];
}) {
  const labelOf = new Map(inputs.map((i) => [i.nodeId, i.label]));
  const mapped = preview.mapping.filter((m) => m.nodeId !== null);
  return (
    <div className="wf-batch__preview" data-testid="batch-preview">
      {preview.problems.map((p) => (
        <p key={p} className="wf-field__error" role="alert">
          {p}
        </p>
      ))}
      {preview.unknownColumns.length ? (
        <p className="wf-field__error" data-testid="batch-unknown-columns">
          No input node for: {preview.unknownColumns.join(", ")}
        </p>
      ) : null}
      {preview.rows.length ? (
        <table className="wf-batch__table">
          <thead>
            <tr>
              <th>#</th>
              {preview.mapping.map((m) => (
                <th
                  key={m.column}
                  className={m.nodeId ? "" : "is-unknown"}
                  title={m.nodeId ? `→ ${m.nodeId}` : "No input node has this id or label"}
                >
                  {m.nodeId ? (labelOf.get(m.nodeId) ?? m.column) : `${m.column} ?`}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {preview.rows.map((row, i) => (
              <tr key={i}>
                <td>{i + 1}</td>
                {preview.mapping.map((m) => (
                  <td key={m.column} className={m.nodeId ? "" : "is-unknown"}>
                    {m.nodeId ? (row[m.nodeId] ?? "") : "—"}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {preview.total > preview.rows.length ? (
        <p className="wf-muted">…and {preview.total - preview.rows.length} more rows.</p>
      ) : null}
      {mapped.length === 0 && preview.total > 0 ? (
        <p className="wf-muted">No column fills an input: every row runs with the saved values.</p>
      ) : null}
    </div>
  );
}
