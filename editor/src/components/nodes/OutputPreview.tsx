import { memo } from "react";
import type { NodeState, PortType } from "../../api/types";
import { Picture } from "../Picture";
import { mediaKind } from "../theme";

interface Props {
  state: NodeState;
  primaryType?: PortType;
}

/** The node's latest output, inline: an image, a player, or a text excerpt. */
function OutputPreviewView({ state, primaryType }: Props) {
  const url = state.outputUrl ?? state.outputUrls?.[0] ?? null;
  const kind = url ? mediaKind(url, primaryType) : null;
  if (url && kind === "image") {
    return (
      <a className="wf-preview nodrag" href={url} target="_blank" rel="noreferrer">
        <Picture url={url} alt="output" testId="node-preview-image" />
      </a>
    );
  }
  if (url && kind === "video") {
    return (
      <video
        className="wf-preview nodrag nowheel"
        src={url}
        controls
        muted
        loop
        preload="metadata"
        data-testid="node-preview-video"
      />
    );
  }
  if (url && kind === "audio") {
    return (
      <audio className="wf-preview nodrag" src={url} controls preload="metadata" data-testid="node-preview-audio" />
    );
  }
  if (state.text) {
    return (
      <p className="wf-preview wf-preview--text nowheel" data-testid="node-preview-text">
        {excerpt(state.text)}
      </p>
    );
  }
  return null;
}

function excerpt(text: string): string {
  return text.length > 280 ? `${text.slice(0, 280)}…` : text;
}

export const OutputPreview = memo(OutputPreviewView);
