/** POST /api/v1/uploads (docs/api.md "Uploads"): not in the generated OpenAPI types yet. */

export interface UploadOut {
  id: string;
  url: string;
  contentType: string;
  size: number;
  width?: number;
  height?: number;
  durationSeconds?: number;
}

export type MediaKind = "image" | "video" | "audio";

/** What the server recognises (by content; the browser's guess only picks the file dialog's
 * filter and refuses an obvious mismatch early). */
export const ACCEPTED: Record<MediaKind, string[]> = {
  image: ["image/png", "image/jpeg", "image/webp", "image/gif"],
  video: ["video/mp4", "video/webm"],
  audio: ["audio/mpeg", "audio/wav", "audio/x-wav", "audio/wave", "audio/ogg"],
};

export const MEDIA_INPUTS: Record<string, MediaKind> = {
  "input:image": "image",
  "input:video": "video",
  "input:audio": "audio",
};

/** The param of a media input node that holds its URL. */
export const URL_PARAM = "url";

export function inputNodeType(kind: MediaKind): string {
  return `input:${kind}`;
}

export function kindOfNodeType(nodeType: string | undefined): MediaKind | null {
  return (nodeType && MEDIA_INPUTS[nodeType]) || null;
}

/** The kind of a content type ("image/png" → image), or null for anything else. */
export function kindOfContentType(contentType: string): MediaKind | null {
  const base = contentType.split(";")[0].trim().toLowerCase();
  for (const kind of Object.keys(ACCEPTED) as MediaKind[]) {
    if (ACCEPTED[kind].includes(base)) return kind;
  }
  return null;
}

/** The file dialog's filter for one kind. */
export function acceptFor(kind: MediaKind): string {
  return ACCEPTED[kind].join(",");
}
