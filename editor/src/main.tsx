import "@xyflow/react/dist/style.css";
import "./styles/editor.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import type { EditorConfig } from "./api/types";
import { App } from "./App";

const root = document.getElementById("wireflow-editor");
const configElement = document.getElementById("editor-config");
if (root && configElement?.textContent) {
  const config = JSON.parse(configElement.textContent) as EditorConfig;
  createRoot(root).render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
}
