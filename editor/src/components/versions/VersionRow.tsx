import { type KeyboardEvent, memo, useState } from "react";
import { explain } from "../../actions/errors";
import { tagVersion, untagVersion } from "../../actions/versions";
import type { VersionSummary } from "../../api/sharing";
import { useEnv } from "../../env";
import { useEditor, useEditorStore } from "../../store";
import { authorOf, looksLikeSemver, relativeTime } from "../../versions/format";

interface Props {
  version: VersionSummary;
  isLatest: boolean;
  comparing: boolean;
  canModify: boolean;
  onChanged: () => void;
  onCompare: () => void;
  onRestore: () => void;
}

/** One version: number, tag, author, time and note; its actions; the inline tag form. */
export const VersionRow = memo(function VersionRow(props: Props) {
  const { version: v, isLatest, comparing, canModify } = props;
  const [tagging, setTagging] = useState(false);
  const untag = useUntag(v.number, props.onChanged);
  return (
    <li className={`wf-version${comparing ? " is-comparing" : ""}`} data-testid={`version-row-${v.number}`}>
      <div className="wf-version__line">
        <strong className="wf-version__number">v{v.number}</strong>
        {v.tag ? (
          <span className="wf-chip wf-chip--tag" data-testid={`version-tag-${v.number}`}>
            {v.tag}
          </span>
        ) : null}
        {isLatest ? <span className="wf-chip">latest</span> : null}
        <span className="wf-version__when wf-muted" title={v.createdAt}>
          {relativeTime(v.createdAt)}
        </span>
      </div>
      <div className="wf-version__meta wf-muted">
        {authorOf(v.createdBy)} · {v.nodeCount} node{v.nodeCount === 1 ? "" : "s"}
      </div>
      {v.note ? <p className="wf-version__note">{v.note}</p> : null}
      {tagging ? (
        <TagForm
          version={v}
          onDone={() => {
            setTagging(false);
            props.onChanged();
          }}
          onCancel={() => setTagging(false)}
        />
      ) : (
        <div className="wf-version__actions">
          {isLatest ? null : (
            <button
              type="button"
              className="wf-btn wf-btn--small"
              data-testid={`version-diff-${v.number}`}
              aria-pressed={comparing}
              onClick={props.onCompare}
            >
              Compare with current
            </button>
          )}
          {canModify ? (
            <button
              type="button"
              className="wf-btn wf-btn--small"
              data-testid={`version-tag-button-${v.number}`}
              onClick={() => setTagging(true)}
            >
              {v.tag ? "Retag" : "Tag"}
            </button>
          ) : null}
          {canModify && v.tag ? (
            <button
              type="button"
              className="wf-btn wf-btn--small"
              data-testid={`version-untag-${v.number}`}
              onClick={() => void untag()}
            >
              Untag
            </button>
          ) : null}
          {canModify && !isLatest ? (
            <button
              type="button"
              className="wf-btn wf-btn--small"
              data-testid={`version-restore-${v.number}`}
              onClick={props.onRestore}
            >
              Restore
            </button>
          ) : null}
        </div>
      )}
    </li>
  );
});

function useUntag(number: number, onChanged: () => void): () => Promise<void> {
  const env = useEnv();
  const store = useEditorStore();
  const workflowId = useEditor((s) => s.workflow.id);
  return async () => {
    if (!workflowId) return;
    try {
      await untagVersion(env, workflowId, number);
      store.getState().toast("success", `Version ${number} is no longer tagged`);
      onChanged();
    } catch (error) {
      store.getState().toast("error", `Not untagged: ${explain(error).message}`);
    }
  };
}

/** Tag a version: Enter saves, Escape cancels; the server's refusal (422 invalid_version_tag,
 * 409 version_tag_taken) is shown under the field being typed in. */
function TagForm({ version, onDone, onCancel }: { version: VersionSummary; onDone: () => void; onCancel: () => void }) {
  const env = useEnv();
  const store = useEditorStore();
  const workflowId = useEditor((s) => s.workflow.id);
  const [tag, setTag] = useState(version.tag ?? "");
  const [note, setNote] = useState(version.note ?? "");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const n = version.number;

  const submit = async () => {
    if (!workflowId || busy) return;
    setBusy(true);
    setError(null);
    try {
      await tagVersion(env, workflowId, n, tag, note);
      store.getState().toast("success", `Tagged version ${n} as ${tag.trim()}`);
      onDone();
    } catch (failure) {
      setError(explain(failure).message);
      setBusy(false);
    }
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      onCancel();
    }
  };
  const hint = tag.trim() && !looksLikeSemver(tag) ? "A semantic version, like 1.4.0 or v2.0.1" : null;

  return (
    <form
      className="wf-tagform"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
      onKeyDown={onKey}
    >
      <label className="wf-tagform__label" htmlFor={`tag-${n}`}>
        Tag
      </label>
      <input
        id={`tag-${n}`}
        className="wf-tagform__input"
        data-testid={`version-tag-input-${n}`}
        value={tag}
        placeholder="1.0.0"
        maxLength={40}
        autoFocus
        aria-invalid={error ? true : undefined}
        aria-describedby={`tag-${n}-msg`}
        onChange={(e) => {
          setTag(e.target.value);
          setError(null);
        }}
      />
      <label className="wf-tagform__label" htmlFor={`note-${n}`}>
        Note <span className="wf-muted">(optional)</span>
      </label>
      <input
        id={`note-${n}`}
        className="wf-tagform__input"
        data-testid={`version-note-input-${n}`}
        value={note}
        placeholder="What changed"
        maxLength={500}
        onChange={(e) => setNote(e.target.value)}
      />
      <span id={`tag-${n}-msg`}>
        {error ? (
          <span className="wf-field__error" role="alert" data-testid={`version-tag-error-${n}`}>
            {error}
          </span>
        ) : hint ? (
          <span className="wf-field__hint">{hint}</span>
        ) : null}
      </span>
      <div className="wf-version__actions">
        <button
          type="submit"
          className="wf-btn wf-btn--small wf-btn--primary"
          data-testid={`version-tag-save-${n}`}
          disabled={busy || !tag.trim()}
        >
          {busy ? "Saving…" : "Save tag"}
        </button>
        <button type="button" className="wf-btn wf-btn--small" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
