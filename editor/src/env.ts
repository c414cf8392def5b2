import { createContext, useContext } from "react";
import type { ApiClient } from "./api/client";
import type { EditorConfig } from "./api/types";
import type { LiveRun } from "./run/live";

/** What every part of one editor instance shares besides the store. */
export interface EditorEnv {
  api: ApiClient;
  config: EditorConfig;
  live: LiveRun;
}

export const EnvContext = createContext<EditorEnv | null>(null);

export function useEnv(): EditorEnv {
  const env = useContext(EnvContext);
  if (!env) throw new Error("useEnv must be used inside <EnvContext.Provider>");
  return env;
}
