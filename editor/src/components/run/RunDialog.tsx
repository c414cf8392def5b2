import { useMemo, useState } from "react";
import { inputNodes, runWorkflow } from "../../actions/run";
import type { JsonValue } from "../../api/types";
import { useEnv } from "../../env";
import { fieldsFor, type FieldDef } from "../../graph/schema";
import { useEditorStore } from "../../store";
import { FieldInput } from "../inspector/fields";
import { Dialog } from "../Dialog";

interface Row {
  nodeId: string;
  label: string;
  field: FieldDef;
}

/** Asks for the values of the input nodes, their current params as defaults, then runs. */
export function RunDialog() {
  const store = useEditorStore();
  const env = useEnv();
  const rows = useMemo<Row[]>(() => inputNodes(store).flatMap((node) => {
    const spec = store.getState().catalogue.get(node.data.nodeType);
    const field = spec ? fieldsFor(spec.paramsSchema).find((f) => !f.advanced) : undefined;
    return field ? [{ nodeId: node.id, label: node.data.label, field }] : [];
  }), [store]);
  const [values, setValues] = useState<Record<string, JsonValue | undefined>>(() => {
    const nodes = new Map(store.getState().nodes.map((n) => [n.id, n]));
    return Object.fromEntries(rows.map((r) => {
      const node = nodes.get(r.nodeId);
      return [r.nodeId, node?.type === "basedNode" ? node.data.params[r.field.name] : undefined];
    }));
  });
  const close = () => store.getState().setDialog(null);
  const submit = () => {
    const inputs: Record<string, JsonValue> = {};
    for (const [id, value] of Object.entries(values)) if (value !== undefined) inputs[id] = value;
    close();
    void runWorkflow(store, env, { inputs });
  };

  return (
    <Dialog title="Run workflow" onClose={close} testId="run-dialog">
      <form className="wf-form" onSubmit={(e) => { e.preventDefault(); submit(); }}>
        <p className="wf-muted">Values for this run. The saved workflow keeps its own defaults.</p>
        {rows.map((row) => (
          <div className="wf-field" key={row.nodeId}>
            <label htmlFor={`f-${row.field.name}`}>{row.label}</label>
            <FieldInput field={row.field} value={values[row.nodeId]} disabled={false}
              onChange={(v) => setValues((prev) => ({ ...prev, [row.nodeId]: v }))} />
          </div>
        ))}
        <div className="wf-dialog__actions">
          <button type="button" className="wf-btn" onClick={close}>Cancel</button>
          <button type="submit" className="wf-btn wf-btn--primary" data-testid="run-dialog-submit">▶ Run</button>
        </div>
      </form>
    </Dialog>
  );
}
