import { useEditor, useEditorStore } from "../store";

export function Toasts() {
  const toasts = useEditor((s) => s.toasts);
  const store = useEditorStore();
  return (
    <div className="wf-toasts" aria-live="polite">
      {toasts.map((t) => (
        <div
          key={t.id}
          className={`wf-toast wf-toast--${t.kind}`}
          role={t.kind === "error" ? "alert" : "status"}
          data-testid="toast"
          onClick={() => store.getState().dismissToast(t.id)}
        >
          {t.message}
        </div>
      ))}
    </div>
  );
}
