import { useReactFlow } from "@xyflow/react";
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import { describeFailure, MAX_PROMPT_CHARS, placeGenerated, requestWorkflow } from "../actions/generate";
import { useEnv } from "../env";
import { useEditor, useEditorStore } from "../store";

const FIT = { padding: 0.2, maxZoom: 1, duration: 300 };
/** The end of the model's text that stays on screen while it writes. */
const TAIL_CHARS = 600;

type Phase =
  { kind: "idle" } | { kind: "running"; status: string; model: string } | { kind: "failed"; message: string };

/**
 * On an empty canvas that may be edited: describe the workflow in a sentence and the team's
 * LLM builds it (progress as it streams); the result lands as unsaved changes.
 */
export function DescribeBox() {
  const store = useEditorStore();
  const env = useEnv();
  const { fitView } = useReactFlow();
  const empty = useEditor((s) => s.nodes.length === 0);
  const [prompt, setPrompt] = useState("");
  const [phase, setPhase] = useState<Phase>({ kind: "idle" });
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  const running = phase.kind === "running";
  if (!empty && !running) return null;

  const generate = async (event?: FormEvent) => {
    event?.preventDefault();
    const text = prompt.trim();
    if (!text || running) return;
    const controller = new AbortController();
    abort.current = controller;
    setPhase({ kind: "running", status: "Starting…", model: "" });
    let attemptShown = 0;
    try {
      const graph = await requestWorkflow(
        env,
        text,
        {
          onStatus: (status) => setPhase((p) => (p.kind === "running" ? { ...p, status } : p)),
          onModelText: (piece, attempt) => {
            // A repair starts a new answer: its text replaces the last one's.
            const fresh = attempt !== attemptShown;
            attemptShown = attempt;
            setPhase((p) =>
              p.kind === "running" ? { ...p, model: ((fresh ? "" : p.model) + piece).slice(-TAIL_CHARS) } : p,
            );
          },
        },
        controller.signal,
      );
      placeGenerated(store, graph);
      setPhase({ kind: "idle" });
      store.getState().toast("success", `Generated ${graph.nodes.length} nodes: review them, then save`);
      void fitView(FIT);
    } catch (error) {
      if (controller.signal.aborted) return;
      setPhase({ kind: "failed", message: describeFailure(error) });
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) void generate();
  };

  return (
    <form className="wf-describe" data-testid="describe-box" onSubmit={generate}>
      <label className="wf-describe__title" htmlFor="wf-describe-input">
        Describe it
      </label>
      <p className="wf-describe__hint wf-muted">
        Say what the workflow should do, e.g. “an image of a fox, upscaled, then a video”. Or drag nodes from the
        palette.
      </p>
      <textarea
        id="wf-describe-input"
        className="wf-describe__input"
        data-testid="describe-input"
        value={prompt}
        maxLength={MAX_PROMPT_CHARS}
        rows={3}
        disabled={running}
        placeholder="A portrait photo, then a talking head reading a short script"
        onChange={(e) => setPrompt(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="wf-describe__actions">
        <button
          type="submit"
          className="wf-btn wf-btn--primary"
          data-testid="describe-submit"
          disabled={running || !prompt.trim()}
        >
          {running ? "Generating…" : "Generate"}
        </button>
        {running ? (
          <span className="wf-describe__status" role="status" data-testid="describe-status">
            {phase.status}
          </span>
        ) : null}
      </div>
      {running && phase.model ? (
        <pre className="wf-describe__model wf-mono" data-testid="describe-model">
          {phase.model}
        </pre>
      ) : null}
      {phase.kind === "failed" ? (
        <p className="wf-describe__error" role="alert" data-testid="describe-error">
          {phase.message}
        </p>
      ) : null}
    </form>
  );
}
