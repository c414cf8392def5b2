import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The bundle is served by Django from static/editor/; the page template reads the manifest to
// find the hashed file names, so `base` must match STATIC_URL + "editor/".
export default defineConfig({
  plugins: [react()],
  base: "/static/editor/",
  build: {
    outDir: "../static/editor",
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    // Two entries: the canvas editor, and the charts of the Dashboard and Usage pages (Chart.js),
    // each page loading only its own (workflows/templatetags/editor_assets.py).
    rolldownOptions: { input: { main: "src/main.tsx", charts: "src/charts/main.ts" } },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    // A bound on a hang, not a speed goal: CI shares a loaded 2-core machine.
    testTimeout: 60_000,
  },
});
