import { useMemo, useState } from "react";
import { runWorkflow } from "../../actions/run";
import type { JsonValue } from "../../api/types";
import { useEnv } from "../../env";
import { inputErrors, inputValues, runInputRows } from "../../run/inputs";
import { useEditorStore } from "../../store";
import { Dialog } from "../Dialog";
import { FieldInput } from "../inspector/fields";

type Values = Record<string, JsonValue | undefined>;

/**
 * Asks for one value per input node — the param its catalogue entry names — prefilled with the
 * value saved in the node, then runs. A refused run keeps the dialog open with the server's
 * message on the field at fault.
 */
export function RunDialog() {
  const store = useEditorStore();
  const env = useEnv();
  const rows = useMemo(() => runInputRows(store.getState().nodes, store.getState().catalogue), [store]);
  const [values, setValues] = useState<Values>(() => Object.fromEntries(rows.map((r) => [r.nodeId, r.value])));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const close = () => store.getState().setDialog(null);

  const submit = async () => {
    const problems = inputErrors(rows, values);
    setErrors(problems);
    if (Object.keys(problems).length > 0 || busy) return;
    setBusy(true);
    const refused = await runWorkflow(store, env, { inputs: inputValues(rows, values) });
    setBusy(false);
    if (!refused) return close();
    setErrors(refused.inputErrors);
    setFailure(Object.keys(refused.inputErrors).length ? null : refused.message);
  };

  return (
    <Dialog title="Run workflow" onClose={close} testId="run-dialog">
      <form
        className="wf-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p className="wf-muted">Values for this run. The saved workflow keeps its own.</p>
        {failure ? (
          <p className="wf-form__error" role="alert" data-testid="run-dialog-error">
            {failure}
          </p>
        ) : null}
        {rows.map((row, i) => (
          <div className="wf-field" key={row.nodeId} data-testid={`run-input-${row.nodeId}`}>
            <label htmlFor={`run-input-${i}`}>
              {row.label}
              {row.field.required ? (
                <span className="wf-req" title="Required">
                  *
                </span>
              ) : null}
            </label>
            <FieldInput
              field={row.field}
              value={values[row.nodeId]}
              disabled={busy}
              controlId={`run-input-${i}`}
              testId={`run-input-field-${row.nodeId}`}
              onChange={(v) => setValues((prev) => ({ ...prev, [row.nodeId]: v }))}
            />
            {errors[row.nodeId] ? (
              <span className="wf-field__error" role="alert">
                {errors[row.nodeId]}
              </span>
            ) : null}
          </div>
        ))}
        <div className="wf-dialog__actions">
          <button type="button" className="wf-btn" onClick={close}>
            Cancel
          </button>
          <button type="submit" className="wf-btn wf-btn--primary" disabled={busy} data-testid="run-dialog-submit">
            {busy ? "Starting…" : "▶ Run"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
