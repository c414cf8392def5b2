import { useReactFlow } from "@xyflow/react";
import { type DragEvent, memo, useMemo, useState } from "react";
import type { NodeSpec } from "../api/types";
import { DEFAULT_NODE_SIZE, freeSpot, rectOf } from "../graph/placement";
import { STICKY_SIZE } from "../graph/types";
import { useEditor, useEditorStore } from "../store";
import { NODE_DRAG_MIME } from "./Canvas";
import { categoryColour, formatCredits } from "./theme";

const CATEGORY_ORDER = ["input", "model", "utility", "logic", "output"];
const CATEGORY_TITLES: Record<string, string> = {
  input: "Inputs",
  model: "Models",
  utility: "Utilities",
  logic: "Logic",
  output: "Outputs",
};

function groupSpecs(specs: NodeSpec[], query: string): Array<[string, NodeSpec[]]> {
  const q = query.trim().toLowerCase();
  const match = (s: NodeSpec) =>
    !q || [s.label, s.nodeType, s.description, s.category].some((text) => text.toLowerCase().includes(q));
  const groups = new Map<string, NodeSpec[]>();
  for (const spec of specs.filter(match)) groups.set(spec.category, [...(groups.get(spec.category) ?? []), spec]);
  const rank = (c: string) => (CATEGORY_ORDER.includes(c) ? CATEGORY_ORDER.indexOf(c) : 99);
  return [...groups.entries()].sort(([a], [b]) => rank(a) - rank(b));
}

/** The node catalogue: searchable, grouped by category; drag onto the canvas or click to add. */
export const Palette = memo(function Palette() {
  const catalogue = useEditor((s) => s.catalogue);
  const [query, setQuery] = useState("");
  const groups = useMemo(() => groupSpecs([...catalogue.values()], query), [catalogue, query]);
  const add = useAddAtCentre();

  return (
    <aside className="wf-palette" aria-label="Node palette">
      <input
        className="wf-palette__search"
        type="search"
        placeholder="Search nodes…"
        value={query}
        data-testid="palette-search"
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && groups[0]) add(groups[0][1][0].nodeType);
        }}
      />
      <div className="wf-palette__list">
        {groups.map(([category, specs]) => (
          <section key={category}>
            <h3 style={{ color: categoryColour(category) }}>{CATEGORY_TITLES[category] ?? category}</h3>
            {specs.map((spec) => (
              <PaletteItem key={spec.nodeType} spec={spec} onAdd={add} />
            ))}
          </section>
        ))}
        {groups.length === 0 ? <p className="wf-muted">No node matches “{query}”.</p> : null}
        <section>
          <h3>Canvas</h3>
          <PaletteItem spec={NOTE_SPEC} onAdd={add} />
        </section>
      </div>
    </aside>
  );
});

/** A palette entry: a catalogue node type, or the sticky note (not a node type: never run). */
type PaletteSpec = Omit<NodeSpec, "category"> & { category: NodeSpec["category"] | "note" };

const NOTE_SPEC: PaletteSpec = {
  nodeType: "note:sticky",
  label: "Sticky note",
  category: "note",
  description: "A comment on the canvas; not executed.",
  inputs: [],
  outputs: [],
  paramsSchema: {},
  credits: 0,
  creditUnit: "run",
  timeoutSeconds: 0,
  outputAliases: {},
  inputParam: null,
  inputType: null,
};

function PaletteItem({ spec, onAdd }: { spec: PaletteSpec; onAdd: (nodeType: string) => void }) {
  const onDragStart = (event: DragEvent) => {
    event.dataTransfer.setData(NODE_DRAG_MIME, spec.nodeType);
    event.dataTransfer.effectAllowed = "copy";
  };
  return (
    <button
      type="button"
      className="wf-palette__item"
      draggable
      onDragStart={onDragStart}
      onClick={() => onAdd(spec.nodeType)}
      data-testid={`palette-item-${spec.nodeType}`}
      title={`${spec.description}\n\nDrag onto the canvas or click to add.`}
    >
      <span className="wf-palette__swatch" style={{ background: categoryColour(spec.category) }} />
      <span className="wf-palette__text">
        <span className="wf-palette__label">{spec.label}</span>
        <span className="wf-palette__desc">{spec.description}</span>
      </span>
      {spec.category !== "note" ? (
        <span className="wf-palette__price">{formatCredits(spec.credits, spec.creditUnit)}</span>
      ) : null}
    </button>
  );
}

/** Click-to-add puts the node at the free spot nearest the middle of the visible canvas. */
function useAddAtCentre(): (nodeType: string) => void {
  const store = useEditorStore();
  const { screenToFlowPosition } = useReactFlow();
  return (nodeType: string) => {
    const pane = document.querySelector(".wf-canvas")?.getBoundingClientRect();
    const centre = pane ? { x: pane.left + pane.width / 2, y: pane.top + pane.height / 2 } : { x: 400, y: 300 };
    const size = nodeType === "note:sticky" ? STICKY_SIZE : DEFAULT_NODE_SIZE;
    const position = freeSpot(screenToFlowPosition(centre), size, store.getState().nodes.map(rectOf));
    if (nodeType === "note:sticky") store.getState().addSticky(position);
    else store.getState().addNode(nodeType, position);
  };
}
