/**
 * The upload itself: multipart POST with the session cookie and CSRF header, like the editor's
 * API client, but through XMLHttpRequest, the one browser API that reports upload progress.
 * Failures are ApiErrors carrying the server's error body.
 */
import { ApiError, type ErrorBody } from "../api/client";
import type { UploadOut } from "./types";

export type Progress = (fraction: number) => void;
export type Uploader = (file: File, onProgress: Progress) => Promise<UploadOut>;

export function xhrUploader(apiBase: string, csrfToken: string): Uploader {
  return (file, onProgress) =>
    new Promise<UploadOut>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${apiBase}/uploads`);
      xhr.withCredentials = true;
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrfToken);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        const body = parse(xhr.responseText);
        if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body as UploadOut);
        else reject(new ApiError(xhr.status, errorBody(body, xhr.status)));
      };
      xhr.onerror = () => reject(new ApiError(0, { error: "The server could not be reached", code: "network_error" }));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

export function errorBody(body: unknown, status: number): ErrorBody {
  if (typeof body === "object" && body !== null && typeof (body as ErrorBody).error === "string") {
    return body as ErrorBody;
  }
  // A proxy in front of the site may refuse a big body with its own page.
  const error = status === 413 ? "The file is too large" : `Upload failed (${status})`;
  return { error, code: status === 413 ? "payload_too_large" : "http_error" };
}
