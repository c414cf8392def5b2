import { saveWorkflow } from "../actions/workflow";
import { BatchDialog } from "../batch/BatchDialog";
import { useEnv } from "../env";
import { useEditor, useEditorStore } from "../store";
import { Dialog } from "./Dialog";
import { PublishDialog } from "./PublishDialog";
import { RunDialog } from "./run/RunDialog";

export const SHORTCUTS: Array<[string, string]> = [
  ["Ctrl/⌘ + S", "Save"],
  ["Ctrl/⌘ + Z", "Undo"],
  ["Ctrl/⌘ + Shift + Z, Ctrl + Y", "Redo"],
  ["Ctrl/⌘ + C / V", "Copy / paste (works between workflows)"],
  ["Ctrl/⌘ + D", "Duplicate selection"],
  ["Ctrl/⌘ + A", "Select all"],
  ["Delete / Backspace", "Delete selection"],
  ["Shift + drag", "Box-select"],
  ["Ctrl/⌘ + click", "Add to selection"],
  ["Arrow keys", "Nudge selected nodes"],
  ["Shift + L", "Auto-layout"],
  ["Shift + 1", "Fit view"],
  ["Ctrl/⌘ + Enter", "Run"],
  ["?", "This help"],
];

export function Dialogs() {
  const dialog = useEditor((s) => s.dialog);
  if (dialog === "help") return <HelpDialog />;
  if (dialog === "run") return <RunDialog />;
  if (dialog === "conflict") return <ConflictDialog />;
  if (dialog === "publish") return <PublishDialog />;
  if (dialog === "batch") return <BatchDialog />;
  return null;
}

function HelpDialog() {
  const store = useEditorStore();
  return (
    <Dialog title="Keyboard shortcuts" onClose={() => store.getState().setDialog(null)} testId="help-dialog">
      <table className="wf-shortcuts">
        <tbody>
          {SHORTCUTS.map(([keys, what]) => (
            <tr key={keys}>
              <td>
                <kbd>{keys}</kbd>
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}

/** Someone saved this workflow since we loaded it: take theirs, or replace it with ours. */
function ConflictDialog() {
  const store = useEditorStore();
  const env = useEnv();
  const close = () => store.getState().setDialog(null);
  return (
    <Dialog title="This workflow changed elsewhere" onClose={close} testId="conflict-dialog">
      <p>
        Someone saved a newer version since you opened it. Reload to see theirs (your unsaved changes are lost), or
        overwrite it with yours.
      </p>
      <div className="wf-dialog__actions">
        <button
          type="button"
          className="wf-btn"
          data-testid="conflict-reload"
          onClick={() => {
            store.getState().markSaved();
            window.location.reload();
          }}
        >
          Reload
        </button>
        <button
          type="button"
          className="wf-btn wf-btn--danger"
          data-testid="conflict-overwrite"
          onClick={() => {
            close();
            void saveWorkflow(store, env, true);
          }}
        >
          Overwrite
        </button>
      </div>
    </Dialog>
  );
}
