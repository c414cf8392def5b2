import { NodeResizer, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { StickyNode } from "../../graph/types";
import { useEditor, useEditorStore } from "../../store";

/** A comment on the canvas: saved with the graph, never executed or connected. */
function StickyNoteView({ id, data, selected }: NodeProps<StickyNode>) {
  const store = useEditorStore();
  const readOnly = useEditor((s) => s.readOnly);
  const diff = useEditor((s) => s.compare?.marks[id]);
  return (
    <div
      className={`wf-sticky${diff ? ` wf-node--diff-${diff}` : ""}`}
      data-node-type="note:sticky"
      data-status="idle"
      data-testid={`node-${id}`}
      data-diff={diff}
    >
      <NodeResizer isVisible={selected && !readOnly} minWidth={140} minHeight={80} color="#ca8a04" />
      <textarea
        className="nodrag nowheel"
        value={data.text}
        placeholder="Write a note…"
        aria-label="Note text"
        readOnly={readOnly}
        onChange={(e) => store.getState().updateData(id, { text: e.target.value })}
      />
    </div>
  );
}

export const StickyNoteComponent = memo(StickyNoteView);
