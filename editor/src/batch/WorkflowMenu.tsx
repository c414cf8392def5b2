import { useEffect, useRef, useState } from "react";
import { Icon } from "../components/icons";

/**
 * The workflow's menu in the top bar: Batch… (opens the Batch dialog) and Schedules (the
 * workflow's schedules page). One small button, so the top bar still fits 1280 px. Escape or a
 * click elsewhere closes it.
 */
export function WorkflowMenu({
  workflowId,
  canExecute,
  onBatch,
}: {
  workflowId: string;
  canExecute: boolean;
  onBatch: () => void;
}) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    window.addEventListener("mousedown", onDown);
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("mousedown", onDown);
      window.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div className="wf-menu" ref={root}>
      <button
        type="button"
        className={`wf-btn${open ? " is-on" : ""}`}
        data-testid="workflow-menu"
        aria-label="Workflow menu"
        title="Batch runs and schedules"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        <Icon name="grid" />
        <span className="wf-btn__wide-label"> More</span> ▾
      </button>
      {open ? (
        <div className="wf-menu__list" role="menu">
          {canExecute ? (
            <button
              type="button"
              role="menuitem"
              className="wf-menu__item"
              data-testid="batch-button"
              onClick={() => {
                setOpen(false);
                onBatch();
              }}
            >
              Batch…
            </button>
          ) : null}
          <a
            role="menuitem"
            className="wf-menu__item"
            data-testid="schedules-link"
            href={`/workflows/${workflowId}/schedules/`}
          >
            Schedules
          </a>
        </div>
      ) : null}
    </div>
  );
}
