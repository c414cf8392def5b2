// Chart.js configurations built from the statistics: pure functions, so they are tested without
// a canvas. Node types are drawn in their palette category's colour, as on the canvas.
import type { ChartConfiguration } from "chart.js";

import { categoryColour } from "../components/theme";
import type { ChartData, ChartName, CreditDay, NodeTypeRow } from "./types";

export type BarConfig = ChartConfiguration<"bar", number[], string>;

export const COLOURS = {
  completed: "#177245",
  failed: "#c2261d",
  cancelled: "#94a3b8",
  credits: "#4f46e5",
} as const;

export const TOP = 10;

const shortDate = (iso: string): string => iso.slice(5); // MM-DD: the year is in the title

function bars(
  labels: string[],
  datasets: BarConfig["data"]["datasets"],
  options: BarConfig["options"] = {},
): BarConfig {
  return {
    type: "bar",
    data: { labels, datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
      ...options,
    },
  };
}

export function runsPerDay(data: ChartData): BarConfig | null {
  const days = data.byDay ?? [];
  if (!days.length) return null;
  const stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } };
  return bars(
    days.map((d) => shortDate(d.date)),
    [
      { label: "Completed", data: days.map((d) => d.completed), backgroundColor: COLOURS.completed },
      { label: "Failed", data: days.map((d) => d.failed), backgroundColor: COLOURS.failed },
      { label: "Cancelled", data: days.map((d) => d.cancelled), backgroundColor: COLOURS.cancelled },
    ],
    { scales: stacked },
  );
}

function creditBars(days: CreditDay[]): BarConfig | null {
  if (!days.length) return null;
  return bars(
    days.map((d) => shortDate(d.date)),
    [{ label: "Credits", data: days.map((d) => d.creditsUsed), backgroundColor: COLOURS.credits }],
    { scales: { y: { beginAtZero: true } } },
  );
}

export const creditsPerDay = (data: ChartData): BarConfig | null => creditBars(data.byDay ?? []);
export const ledgerPerDay = (data: ChartData): BarConfig | null => creditBars(data.ledgerByDay ?? []);

function horizontal(labels: string[], values: number[], colours: string[] | string): BarConfig | null {
  if (!labels.length) return null;
  return bars(labels, [{ label: "Credits", data: values, backgroundColor: colours }], {
    indexAxis: "y",
    scales: { x: { beginAtZero: true } },
  });
}

export function topWorkflows(data: ChartData): BarConfig | null {
  const rows = (data.byWorkflow ?? []).slice(0, TOP);
  return horizontal(
    rows.map((r) => r.name),
    rows.map((r) => r.creditsUsed),
    COLOURS.credits,
  );
}

function byCategory<T extends NodeTypeRow>(rows: T[], label: (row: T) => string): BarConfig | null {
  const top = rows.slice(0, TOP);
  return horizontal(
    top.map(label),
    top.map((r) => r.creditsUsed),
    top.map((r) => categoryColour(r.category)),
  );
}

export const topNodeTypes = (data: ChartData): BarConfig | null =>
  byCategory(data.byNodeType ?? [], (r) => r.nodeTypeLabel || r.nodeType);

export const topNodes = (data: ChartData): BarConfig | null =>
  byCategory(data.byNode ?? [], (r) => r.label || r.nodeId);

export const BUILDERS: Record<ChartName, (data: ChartData) => BarConfig | null> = {
  runsPerDay,
  creditsPerDay,
  topWorkflows,
  topNodeTypes,
  topNodes,
  ledgerPerDay,
};

export const isChartName = (name: string | undefined): name is ChartName =>
  name !== undefined && Object.hasOwn(BUILDERS, name);
