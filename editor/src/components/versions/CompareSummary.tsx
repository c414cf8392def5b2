import { memo, useMemo } from "react";
import { useEditor, useEditorList, useEditorStore } from "../../store";
import type { Comparison } from "../../store/types";
import { changeRows, diffSummary } from "../../versions/diff";

/** The comparison on the canvas, in words: counts, removed nodes, every changed field. */
export const CompareSummary = memo(function CompareSummary() {
  const compare = useEditor((s) => s.compare);
  const ids = useEditorList((s) => s.nodes.map((n) => n.id));
  const names = useEditorList((s) => s.nodes.map((n) => n.data.label));
  const store = useEditorStore();
  const labelOf = useMemo(() => labelLookup(ids, names, compare), [ids, names, compare]);
  const rows = useMemo(() => (compare ? changeRows(compare.diff, labelOf) : []), [compare, labelOf]);
  if (!compare) return null;
  const { diff } = compare;

  return (
    <section className="wf-compare" data-testid="compare-summary" aria-label="Comparison">
      <header>
        <strong>
          Version {compare.number} → version {compare.against}
        </strong>
        <button
          type="button"
          className="wf-btn wf-btn--small"
          data-testid="diff-clear"
          onClick={() => store.getState().setCompare(null)}
        >
          Clear
        </button>
      </header>
      <p className="wf-muted">
        {diffSummary(diff)} <span className="wf-compare__against">(compared with the latest saved version)</span>
      </p>
      <ul className="wf-compare__legend">
        {diff.nodesAdded.length ? <li className="is-added">Added: {diff.nodesAdded.map(labelOf).join(", ")}</li> : null}
        {diff.nodesRemoved.length ? (
          <li className="is-removed">Removed: {diff.nodesRemoved.map(labelOf).join(", ")}</li>
        ) : null}
      </ul>
      {rows.length ? (
        <table className="wf-compare__changes">
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.nodeId}.${r.field}`} data-testid="diff-change" data-node-id={r.nodeId}>
                <th scope="row">
                  <span className="wf-compare__node">{r.label}</span> {r.field}
                </th>
                <td>
                  <del title={r.from}>{r.from}</del> → <ins title={r.to}>{r.to}</ins>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
});

/** A node's label from the canvas, else from the older version's ghosts, else its id. */
function labelLookup(
  ids: readonly string[],
  names: readonly string[],
  compare: Comparison | null,
): (id: string) => string {
  const labels = new Map<string, string>();
  for (const n of compare?.ghosts.nodes ?? []) labels.set(n.id, n.data.label);
  ids.forEach((id, i) => labels.set(id, names[i]));
  return (id) => labels.get(id) ?? id;
}
