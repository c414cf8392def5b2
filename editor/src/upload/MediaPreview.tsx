import { memo } from "react";
import { Picture } from "../components/Picture";
import "./upload.css";
import type { JsonValue } from "../api/types";
import { kindOfNodeType, URL_PARAM } from "./types";

/** What a media input node holds, shown on the node: the image, or a player. */
export const MediaPreview = memo(function MediaPreview({
  nodeType,
  params,
}: {
  nodeType: string;
  params: Record<string, JsonValue | undefined>;
}) {
  const kind = kindOfNodeType(nodeType);
  const url = params[URL_PARAM];
  if (!kind || typeof url !== "string" || !isShowable(url)) return null;
  return (
    <div className="wf-node__media nodrag" data-testid="input-preview" data-kind={kind}>
      {kind === "image" ? <Picture url={url} alt="" /> : null}
      {kind === "video" ? <video src={url} controls muted preload="metadata" /> : null}
      {kind === "audio" ? <audio src={url} controls preload="metadata" /> : null}
    </div>
  );
});

function isShowable(url: string): boolean {
  return url.startsWith("/") || /^https?:\/\//i.test(url);
}
