// The charts of the server-rendered Dashboard, workflow statistics and Usage pages: each
// <canvas data-chart="name"> is drawn from the page's json_script "chart-data". The charts are
// kept on window.wireflowCharts (by name) so tests and the console can read what was drawn.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

import { BUILDERS, isChartName } from "./configs";
import type { ChartData, ChartName } from "./types";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

declare global {
  interface Window {
    wireflowCharts?: Partial<Record<ChartName, Chart<"bar", number[], string>>>;
  }
}

function readData(): ChartData {
  const element = document.getElementById("chart-data");
  if (!element?.textContent) return {};
  try {
    return JSON.parse(element.textContent) as ChartData;
  } catch {
    return {};
  }
}

function drawAll(): void {
  const data = readData();
  const charts: NonNullable<Window["wireflowCharts"]> = {};
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    const name = canvas.dataset.chart;
    if (!isChartName(name)) continue;
    const config = BUILDERS[name](data);
    if (config) charts[name] = new Chart(canvas, config);
  }
  window.wireflowCharts = charts;
  document.body.dataset.chartsReady = "true";
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", drawAll, { once: true });
} else {
  drawAll();
}
