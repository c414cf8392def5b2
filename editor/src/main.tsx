import "@xyflow/react/dist/style.css";
import "./styles/editor.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { readConfig } from "./config";

const root = document.getElementById("wireflow-editor");
const configElement = document.getElementById("editor-config");
if (root && configElement?.textContent) {
  const config = readConfig(JSON.parse(configElement.textContent));
  createRoot(root).render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
}
