import type { NodeTypes } from "@xyflow/react";
import { BasedNodeComponent } from "./BasedNode";
import { StickyNoteComponent } from "./StickyNote";

/** Declared once at module scope so React Flow never sees a new object and remounts nodes. */
export const nodeTypes: NodeTypes = {
  basedNode: BasedNodeComponent,
  stickyNote: StickyNoteComponent,
};
