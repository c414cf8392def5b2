import { describe, expect, it } from "vitest";

import { CATEGORY_COLOURS } from "../components/theme";
import { BUILDERS, COLOURS, TOP, isChartName, runsPerDay, topNodeTypes, topNodes, topWorkflows } from "./configs";
import type { ChartData, DayRow, NodeRow } from "./types";

const day = (date: string, completed: number, failed: number, credits = 0): DayRow => ({
  date,
  runs: completed + failed,
  completed,
  failed,
  cancelled: 0,
  creditsUsed: credits,
  p50DurationMs: null,
});

const nodeRow = (nodeId: string, category: string, credits: number): NodeRow => ({
  nodeId,
  label: nodeId.toUpperCase(),
  nodeType: `${category}:x`,
  nodeTypeLabel: "X",
  category,
  runs: 1,
  failed: 0,
  creditsUsed: credits,
  p50DurationMs: null,
});

describe("the dashboard's charts", () => {
  it("stacks completed over failed runs, a bar per day", () => {
    const config = runsPerDay({ byDay: [day("2026-11-30", 3, 1), day("2026-12-01", 0, 2)] });
    expect(config?.data.labels).toEqual(["11-30", "12-01"]);
    const [completed, failed] = config?.data.datasets ?? [];
    expect(completed.data).toEqual([3, 0]);
    expect(failed.data).toEqual([1, 2]);
    expect(failed.backgroundColor).toBe(COLOURS.failed);
    expect(config?.options?.scales?.y).toMatchObject({ stacked: true });
  });

  it("draws credits per day from the same days", () => {
    const config = BUILDERS.creditsPerDay({ byDay: [day("2026-12-01", 1, 0, 12.5)] });
    expect(config?.data.datasets[0].data).toEqual([12.5]);
  });

  it("colours node types by their palette category", () => {
    const config = topNodeTypes({
      byNodeType: [
        { nodeType: "generate:flux_2", nodeTypeLabel: "FLUX.2", category: "model", runs: 2, failed: 0, creditsUsed: 6 },
        { nodeType: "input:text", nodeTypeLabel: "Text input", category: "input", runs: 2, failed: 0, creditsUsed: 0 },
      ],
    });
    expect(config?.data.labels).toEqual(["FLUX.2", "Text input"]);
    expect(config?.data.datasets[0].backgroundColor).toEqual([CATEGORY_COLOURS.model, CATEGORY_COLOURS.input]);
    expect(config?.options?.indexAxis).toBe("y");
  });

  it("keeps the top rows only", () => {
    const many: ChartData = { byNode: Array.from({ length: 25 }, (_, i) => nodeRow(`n${i}`, "model", 25 - i)) };
    expect(topNodes(many)?.data.labels).toHaveLength(TOP);
    expect(topNodes(many)?.data.labels?.[0]).toBe("N0");
  });

  it("draws nothing without data, so the page shows its empty state", () => {
    for (const build of Object.values(BUILDERS)) expect(build({})).toBeNull();
    expect(topWorkflows({ byWorkflow: [] })).toBeNull();
  });

  it("knows only its own chart names", () => {
    expect(isChartName("runsPerDay")).toBe(true);
    expect(isChartName("toString")).toBe(false);
    expect(isChartName(undefined)).toBe(false);
  });
});
