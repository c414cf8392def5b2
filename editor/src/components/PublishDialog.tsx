import { type KeyboardEvent, useState } from "react";
import { explain } from "../actions/errors";
import { type PublishFields, parseTags, publishTemplate, templateUrl } from "../actions/publish";
import type { TemplateOut } from "../api/sharing";
import { useEnv } from "../env";
import { useEditorStore } from "../store";
import { Dialog } from "./Dialog";

/**
 * Publish as template: a snapshot of the saved graph in the team's gallery (or every account's,
 * when the operator allows public templates). Enter publishes, Escape closes; the server's
 * refusal is shown in the dialog, success links to the template's page.
 */
export function PublishDialog() {
  const env = useEnv();
  const store = useEditorStore();
  const [initial] = useState(() => store.getState());
  const republish = initial.publishedTemplateId !== null;
  const [name, setName] = useState(initial.workflow.name);
  const [description, setDescription] = useState(initial.workflow.description);
  const [tags, setTags] = useState(initial.workflow.tags.join(", "));
  const [scope, setScope] = useState<PublishFields["scope"]>("team");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [published, setPublished] = useState<TemplateOut | null>(null);
  const close = () => store.getState().setDialog(null);

  const submit = async () => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      const fields = { name: name.trim(), description: description.trim(), tags: parseTags(tags), scope };
      setPublished(await publishTemplate(store, env, fields));
    } catch (failure) {
      setError(explain(failure).message);
    } finally {
      setBusy(false);
    }
  };
  // Enter in the description publishes too; Shift+Enter starts a new line.
  const onDescriptionKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      e.currentTarget.form?.requestSubmit();
    }
  };

  if (published) return <Published template={published} onClose={close} />;
  return (
    <Dialog
      title={republish ? "Publish a new version of the template" : "Publish as template"}
      onClose={close}
      testId="publish-dialog"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <p className="wf-muted">
          {republish
            ? "This workflow was published before: its template gets the current graph and its version goes up by one."
            : "A snapshot of the saved graph goes to the template gallery; teammates start new workflows from it. Keys and secrets are never part of it."}
        </p>
        <div className="wf-field">
          <label htmlFor="publish-name">Name</label>
          <input
            id="publish-name"
            type="text"
            data-testid="publish-name"
            value={name}
            maxLength={200}
            required
            autoFocus
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="wf-field">
          <label htmlFor="publish-description">Description</label>
          <textarea
            id="publish-description"
            data-testid="publish-description"
            value={description}
            maxLength={2000}
            placeholder="What it makes, and what it needs"
            onChange={(e) => setDescription(e.target.value)}
            onKeyDown={onDescriptionKey}
          />
        </div>
        <div className="wf-field">
          <label htmlFor="publish-tags">Tags</label>
          <input
            id="publish-tags"
            type="text"
            data-testid="publish-tags"
            value={tags}
            placeholder="portrait, upscale"
            maxLength={400}
            onChange={(e) => setTags(e.target.value)}
          />
          <span className="wf-field__help">Separated by commas.</span>
        </div>
        <ScopeChoice scope={scope} publicAllowed={env.config.publicTemplates === true} onChange={setScope} />
        {error ? (
          <p className="wf-form__error" role="alert" data-testid="publish-error">
            {error}
          </p>
        ) : null}
        <div className="wf-dialog__actions">
          <button type="button" className="wf-btn" onClick={close}>
            Cancel
          </button>
          <button
            type="submit"
            className="wf-btn wf-btn--primary"
            data-testid="publish-submit"
            disabled={busy || !name.trim()}
          >
            {busy ? "Publishing…" : republish ? "Republish" : "Publish"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ScopeChoice({
  scope,
  publicAllowed,
  onChange,
}: {
  scope: PublishFields["scope"];
  publicAllowed: boolean;
  onChange: (scope: PublishFields["scope"]) => void;
}) {
  return (
    <fieldset className="wf-field wf-scope">
      <legend>Who sees it</legend>
      <label>
        <input
          type="radio"
          name="scope"
          value="team"
          data-testid="publish-scope-team"
          checked={scope === "team"}
          onChange={() => onChange("team")}
        />{" "}
        My team
      </label>
      {publicAllowed ? (
        <label>
          <input
            type="radio"
            name="scope"
            value="public"
            data-testid="publish-scope-public"
            checked={scope === "public"}
            onChange={() => onChange("public")}
          />{" "}
          Everyone on this Wireflow
        </label>
      ) : null}
    </fieldset>
  );
}

function Published({ template, onClose }: { template: TemplateOut; onClose: () => void }) {
  const where = template.scope === "public" ? "every account's gallery" : "your team's gallery";
  return (
    <Dialog title="Published" onClose={onClose} testId="publish-dialog">
      <p data-testid="publish-success">
        “{template.name}” is in {where}
        {template.version > 1 ? ` as version ${template.version}` : ""}.
      </p>
      <div className="wf-dialog__actions">
        <button type="button" className="wf-btn" onClick={onClose}>
          Close
        </button>
        <a className="wf-btn wf-btn--primary" href={templateUrl(template.id)} data-testid="publish-link" autoFocus>
          Open the template
        </a>
      </div>
    </Dialog>
  );
}
