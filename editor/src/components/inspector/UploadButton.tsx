import { useRef } from "react";
import { useEditorStore } from "../../store";
import { uploadToNode } from "../../upload/actions";
import { useUploadStatus } from "../../upload/progress";
import "../../upload/upload.css";
import { acceptFor, type MediaKind } from "../../upload/types";
import { useUploader } from "../../upload/useUploader";

/** Under a media input node's URL: pick a file, upload it, and the URL becomes the upload's. */
export function UploadButton({ nodeId, kind, disabled }: { nodeId: string; kind: MediaKind; disabled: boolean }) {
  const editor = useEditorStore();
  const upload = useUploader();
  const status = useUploadStatus(nodeId);
  const input = useRef<HTMLInputElement>(null);
  const busy = status.progress !== undefined;

  const picked = (files: FileList | null) => {
    const file = files?.[0];
    if (input.current) input.current.value = ""; // the same file may be picked again
    if (file) void uploadToNode(editor, upload, nodeId, file);
  };

  return (
    <div className="wf-upload" data-testid="upload-control">
      <button
        type="button"
        className="wf-btn wf-btn--small"
        disabled={disabled || busy}
        data-testid="upload-button"
        onClick={() => input.current?.click()}
      >
        {busy ? "Uploading…" : `Upload ${kind}`}
      </button>
      <input
        ref={input}
        type="file"
        hidden
        accept={acceptFor(kind)}
        data-testid="upload-input"
        aria-label={`Upload ${kind} file`}
        disabled={disabled || busy}
        onChange={(e) => picked(e.target.files)}
      />
      {busy ? (
        <progress
          className="wf-upload__progress"
          max={1}
          value={status.progress}
          data-testid="upload-progress"
          aria-label={`Uploading ${status.fileName ?? "file"}`}
        />
      ) : null}
      {status.error ? (
        <span className="wf-field__error" role="alert" data-testid="upload-error">
          {status.error}
        </span>
      ) : null}
    </div>
  );
}
