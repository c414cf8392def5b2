import { NodeResizer, type NodeProps } from "@xyflow/react";
import { memo } from "react";
import type { StickyNode } from "../../graph/types";
import { useEditorStore } from "../../store";

/** A comment on the canvas: saved with the graph, never executed or connected. */
function StickyNoteView({ id, data, selected }: NodeProps<StickyNode>) {
  const store = useEditorStore();
  return (
    <div className="wf-sticky" data-node-type="note:sticky" data-status="idle" data-testid={`node-${id}`}>
      <NodeResizer isVisible={selected} minWidth={140} minHeight={80} color="#ca8a04" />
      <textarea className="nodrag nowheel" value={data.text} placeholder="Write a note…"
        aria-label="Note text"
        onChange={(e) => store.getState().updateData(id, { text: e.target.value })} />
    </div>
  );
}

export const StickyNoteComponent = memo(StickyNoteView);
