import { memo, type ReactNode, useMemo } from "react";
import type { JsonValue, NodeSpec } from "../../api/types";
import { fieldsFor, type FieldDef, validateField } from "../../graph/schema";
import { type BasedNodeData, inHandle, isBasedNode } from "../../graph/types";
import { useEditor, useEditorStore, useEditorList } from "../../store";
import { kindOfNodeType, URL_PARAM } from "../../upload/types";
import { categoryColour, formatCredits } from "../theme";
import { FieldInput, fieldId } from "./fields";
import { UploadButton } from "./UploadButton";

/**
 * The settings of the one selected node, as a form generated from its paramsSchema; read-only
 * when the canvas is. `floating` (view mode) shows it over the canvas only while a node is picked.
 */
export const Inspector = memo(function Inspector({ floating = false }: { floating?: boolean }) {
  const selectedId = useEditor((s) => (s.selectedNodeIds.length === 1 ? s.selectedNodeIds[0] : null));
  // The node's data, not the node: dragging moves the node but must not re-render the form.
  const data = useEditor((s) => {
    const node = selectedId ? s.nodes.find((n) => n.id === selectedId) : undefined;
    return node && isBasedNode(node) ? node.data : undefined;
  });
  const count = useEditor((s) => s.selectedNodeIds.length);
  const spec = useEditor((s) => (data ? s.catalogue.get(data.nodeType) : undefined));
  const readOnly = useEditor((s) => s.readOnly);

  if (floating) {
    return selectedId && data && spec ? (
      <aside className="wf-inspector wf-inspector--floating" data-testid="node-details" aria-label="Node settings">
        <NodeForm id={selectedId} data={data} spec={spec} readOnly />
      </aside>
    ) : null;
  }
  return (
    <aside className="wf-inspector" data-testid="inspector" aria-label="Inspector">
      {selectedId && data && spec ? (
        <NodeForm id={selectedId} data={data} spec={spec} readOnly={readOnly} />
      ) : (
        <div className="wf-inspector__empty">
          <h2>{count > 1 ? `${count} nodes selected` : "Inspector"}</h2>
          <p className="wf-muted">
            {readOnly
              ? "Select a node to see its settings. Your role in this team can look but not edit."
              : count > 1
                ? "Select a single node to edit its settings."
                : "Select a node to edit its settings. Drag nodes in from the palette and connect an output (right) to an input (left)."}
          </p>
        </div>
      )}
    </aside>
  );
});

function NodeForm({
  id,
  data,
  spec,
  readOnly,
}: {
  id: string;
  data: BasedNodeData;
  spec: NodeSpec;
  readOnly: boolean;
}) {
  const store = useEditorStore();
  const fields = useMemo(() => fieldsFor(spec.paramsSchema), [spec]);
  const overrides = useOverrides(id);
  const issues = useEditor((s) => s.issues.nodes[id]);
  const setParam = (name: string, value: JsonValue | undefined) => {
    if (value === undefined) store.getState().updateParams(id, {}, [name]);
    else store.getState().updateParams(id, { [name]: value });
  };
  const mediaKind = kindOfNodeType(spec.nodeType);
  const main = fields.filter((f) => !f.advanced);
  const advanced = fields.filter((f) => f.advanced);
  const row = (f: FieldDef) => (
    <Field
      key={f.name}
      field={f}
      value={data.params[f.name]}
      from={overrides.get(f.name)}
      readOnly={readOnly}
      onChange={(v) => setParam(f.name, v)}
    >
      {mediaKind && f.name === URL_PARAM && !readOnly ? (
        <UploadButton nodeId={id} kind={mediaKind} disabled={!!overrides.get(f.name)} />
      ) : null}
    </Field>
  );

  return (
    <form className="wf-form" onSubmit={(e) => e.preventDefault()}>
      <div className="wf-inspector__head" style={{ borderColor: categoryColour(spec.category) }}>
        <span className="wf-inspector__type">
          {spec.category} · {spec.nodeType}
        </span>
        <input
          className="wf-inspector__label"
          aria-label="Node label"
          value={data.label}
          data-testid="inspector-label"
          readOnly={readOnly}
          onChange={(e) => store.getState().updateData(id, { label: e.target.value })}
        />
        <p className="wf-muted">{spec.description}</p>
        <p className="wf-inspector__price">Price: {formatCredits(spec.credits, spec.creditUnit)}</p>
      </div>
      {issues ? (
        <ul className="wf-inspector__issues">
          {issues.map((m) => (
            <li key={m}>{m}</li>
          ))}
        </ul>
      ) : null}
      {main.map(row)}
      {main.length === 0 ? <p className="wf-muted">This node has no settings.</p> : null}
      {advanced.length ? (
        <details className="wf-advanced" open={readOnly || undefined}>
          <summary>Advanced</summary>
          {advanced.map(row)}
        </details>
      ) : null}
    </form>
  );
}

function Field({
  field,
  value,
  from,
  readOnly,
  onChange,
  children,
}: {
  field: FieldDef;
  value: JsonValue | undefined;
  from?: string;
  readOnly: boolean;
  onChange: (v: JsonValue | undefined) => void;
  children?: ReactNode;
}) {
  const error = from || readOnly ? null : validateField(field, value);
  return (
    <div className={`wf-field${error ? " has-error" : ""}${from ? " is-overridden" : ""}`}>
      <label htmlFor={fieldId(field)}>
        {field.title}
        {field.required ? <span className="wf-req">*</span> : null}
      </label>
      <FieldInput field={field} value={value} disabled={!!from || readOnly} onChange={onChange} />
      {children}
      {from ? (
        <span className="wf-field__note" data-testid={`override-${field.name}`}>
          from {from}
        </span>
      ) : null}
      {error ? (
        <span className="wf-field__error" role="alert">
          {error}
        </span>
      ) : null}
      {field.description && !error && !from ? <span className="wf-field__help">{field.description}</span> : null}
    </div>
  );
}

/** Params whose input port is connected: port name → the source node's label. */
function useOverrides(nodeId: string): Map<string, string> {
  const into = (e: { target: string; targetHandle?: string | null }) =>
    e.target === nodeId && Boolean(e.targetHandle?.startsWith("in-"));
  const handles = useEditorList((s) => s.edges.filter(into).map((e) => e.targetHandle ?? ""));
  const sources = useEditorList((s) =>
    s.edges.filter(into).map((e) => s.nodes.find((n) => n.id === e.source)?.data.label ?? e.source),
  );
  return useMemo(() => {
    const map = new Map<string, string>();
    handles.forEach((handle, i) => {
      const port = handle.slice(inHandle("").length);
      map.set(port, map.has(port) ? `${map.get(port)}, ${sources[i]}` : sources[i]);
    });
    return map;
  }, [handles, sources]);
}
