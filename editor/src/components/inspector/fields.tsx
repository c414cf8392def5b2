import { useState } from "react";
import type { JsonValue } from "../../api/types";
import type { FieldDef } from "../../graph/schema";
import { Icon } from "../icons";

export interface FieldProps {
  field: FieldDef;
  value: JsonValue | undefined;
  disabled: boolean;
  onChange: (value: JsonValue | undefined) => void;
  /** The control's id (for its <label>) and test id; by default from the field's name. */
  controlId?: string;
  testId?: string;
}

export const fieldId = (field: FieldDef) => `f-${field.name}`;
const ids = (props: FieldProps) => ({
  id: props.controlId ?? fieldId(props.field),
  "data-testid": props.testId ?? `param-${props.field.name}`,
});

export function FieldInput(props: FieldProps) {
  switch (props.field.kind) {
    case "textarea":
      return <TextField {...props} multiline />;
    case "url":
      return <UrlField {...props} />;
    case "number":
    case "integer":
      return <NumberField {...props} />;
    case "seed":
      return <SeedField {...props} />;
    case "select":
      return <SelectField {...props} />;
    case "checkbox":
      return <CheckboxField {...props} />;
    case "list":
      return <ListField {...props} />;
    case "json":
      return <JsonField {...props} />;
    default:
      return <TextField {...props} />;
  }
}

function textProps(props: FieldProps) {
  const { field, value, disabled, onChange } = props;
  return {
    ...ids(props),
    name: field.name,
    value: typeof value === "string" ? value : value == null ? "" : String(value),
    disabled,
    required: field.required,
    onChange: (e: { target: { value: string } }) =>
      onChange(e.target.value === "" && field.nullable ? undefined : e.target.value),
  };
}

function TextField(props: FieldProps & { multiline?: boolean }) {
  return props.multiline ? <textarea rows={4} {...textProps(props)} /> : <input type="text" {...textProps(props)} />;
}

function UrlField(props: FieldProps) {
  return <input type="url" inputMode="url" placeholder="https://…" {...textProps(props)} />;
}

/** Keeps the typed text locally so "-" or "1." can be typed; the param updates when it parses. */
function NumberField(props: FieldProps) {
  const { field, value, disabled, onChange } = props;
  const [text, setText] = useState(value == null ? "" : String(value));
  // Only an outside change (undo, another field) overwrites what is being typed: the value
  // last seen is kept, and a different one replaces the text while rendering.
  const [seen, setSeen] = useState(value);
  if (value !== seen) {
    setSeen(value);
    if (Number(text) !== value) setText(value == null ? "" : String(value));
  }
  const commit = (raw: string) => {
    setText(raw);
    if (raw.trim() === "") return onChange(undefined);
    const parsed = Number(raw);
    onChange(Number.isNaN(parsed) ? raw : parsed);
  };
  return (
    <input
      type="number"
      {...ids(props)}
      name={field.name}
      value={text}
      disabled={disabled}
      min={field.min}
      max={field.max}
      step={field.kind === "number" ? "any" : 1}
      onChange={(e) => commit(e.target.value)}
    />
  );
}

function SeedField(props: FieldProps) {
  const randomise = () => props.onChange(Math.floor(Math.random() * 2_147_483_647));
  return (
    <div className="wf-row">
      <NumberField {...props} />
      <button
        type="button"
        className="wf-btn wf-btn--icon"
        disabled={props.disabled}
        onClick={randomise}
        title="Randomise seed"
        aria-label="Randomise seed"
        data-testid="seed-randomise"
      >
        <Icon name="shuffle" />
      </button>
    </div>
  );
}

function SelectField(props: FieldProps) {
  const { field, value, disabled, onChange } = props;
  const current = value === undefined || value === null ? "" : JSON.stringify(value);
  return (
    <select
      {...ids(props)}
      name={field.name}
      value={current}
      disabled={disabled}
      onChange={(e) => onChange(e.target.value === "" ? undefined : (JSON.parse(e.target.value) as JsonValue))}
    >
      {!field.required ? <option value="">—</option> : null}
      {field.options.map((option) => (
        <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
          {String(option)}
        </option>
      ))}
    </select>
  );
}

/** A switch: a checkbox that reads as on/off. */
function CheckboxField(props: FieldProps) {
  const { field, value, disabled, onChange } = props;
  return (
    <input
      type="checkbox"
      role="switch"
      className="wf-switch"
      {...ids(props)}
      name={field.name}
      checked={value === true}
      aria-checked={value === true}
      disabled={disabled}
      onChange={(e) => onChange(e.target.checked)}
    />
  );
}

function ListField(props: FieldProps) {
  const { field, value, disabled, onChange } = props;
  const items = Array.isArray(value) ? value.map((v) => String(v ?? "")) : [];
  const set = (next: string[]) => onChange(next.length ? next : undefined);
  return (
    <div className="wf-list" data-testid={ids(props)["data-testid"]}>
      {items.map((item, i) => (
        <div className="wf-row" key={i}>
          <input
            type="text"
            value={item}
            disabled={disabled}
            placeholder="https://…"
            onChange={(e) => set(items.map((x, j) => (j === i ? e.target.value : x)))}
          />
          <button
            type="button"
            className="wf-btn wf-btn--icon"
            disabled={disabled}
            aria-label="Remove"
            onClick={() => set(items.filter((_, j) => j !== i))}
          >
            ×
          </button>
        </div>
      ))}
      <button
        type="button"
        className="wf-btn wf-btn--small"
        disabled={disabled || (field.maxItems !== undefined && items.length >= field.maxItems)}
        onClick={() => set([...items, ""])}
      >
        + Add
      </button>
    </div>
  );
}

function JsonField(props: FieldProps) {
  const { value, disabled, onChange } = props;
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(false);
  const commit = (raw: string) => {
    setText(raw);
    if (raw.trim() === "") return onChange(undefined);
    try {
      onChange(JSON.parse(raw) as JsonValue);
      setBad(false);
    } catch {
      setBad(true);
    }
  };
  return (
    <>
      <textarea
        rows={4}
        className="wf-mono"
        value={text}
        disabled={disabled}
        {...ids(props)}
        onChange={(e) => commit(e.target.value)}
      />
      {bad ? <span className="wf-field__error">Not valid JSON yet</span> : null}
    </>
  );
}
