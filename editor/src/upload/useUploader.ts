import { useMemo } from "react";
import { useEnv } from "../env";
import { type Uploader, xhrUploader } from "./transport";

/** The uploader of this editor instance (its API base and CSRF token). */
export function useUploader(): Uploader {
  const { config } = useEnv();
  return useMemo(() => xhrUploader(config.apiBase, config.csrfToken), [config.apiBase, config.csrfToken]);
}
