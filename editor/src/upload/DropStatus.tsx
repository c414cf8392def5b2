import { CANVAS, useUploadStatus } from "./progress";
import "./upload.css";

/** Over the canvas while a file dropped on empty canvas uploads (errors go to a toast). */
export function DropStatus() {
  const status = useUploadStatus(CANVAS);
  if (status.progress === undefined) return null;
  return (
    <div className="wf-drop-status" role="status" data-testid="drop-upload-status">
      <span>Uploading {status.fileName}…</span>
      <progress max={1} value={status.progress} aria-label="Upload progress" />
    </div>
  );
}
