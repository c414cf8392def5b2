import type { PortType } from "../api/types";

export const CATEGORY_COLOURS: Record<string, string> = {
  input: "#10b981",
  model: "#7c3aed",
  utility: "#0284c7",
  logic: "#d97706",
  output: "#e11d48",
};

export const PORT_COLOURS: Record<PortType, string> = {
  TEXT: "#eab308",
  IMAGE: "#3b82f6",
  VIDEO: "#ec4899",
  AUDIO: "#14b8a6",
  NUMBER: "#f97316",
  BOOLEAN: "#ef4444",
  JSON: "#8b5cf6",
  ANY: "#94a3b8",
};

export const categoryColour = (category: string | undefined): string => CATEGORY_COLOURS[category ?? ""] ?? "#64748b";

export function formatCredits(credits: number, unit?: string): string {
  if (!credits) return "free";
  const per = unit && unit !== "run" ? ` / ${unit}` : "";
  return `${credits} cr${per}`;
}

/** Credits charged, exact to the ledger's 4 decimals without trailing zeros (3.1867, 4,
 * 0.0022): rounded to cents, an LLM call's 0.0022 read "0", as if it had been free. */
export function formatCreditsUsed(credits: number | null | undefined): string {
  return String(Math.round((credits ?? 0) * 10_000) / 10_000);
}

export function mediaKind(url: string, fallback?: PortType): "image" | "video" | "audio" | null {
  const path = url.split("?")[0].toLowerCase();
  if (/\.(png|jpe?g|webp|gif|avif|bmp)$/.test(path)) return "image";
  if (/\.(mp4|webm|mov|m4v)$/.test(path)) return "video";
  if (/\.(wav|mp3|ogg|m4a|flac|aac)$/.test(path)) return "audio";
  if (fallback === "IMAGE") return "image";
  if (fallback === "VIDEO") return "video";
  if (fallback === "AUDIO") return "audio";
  return null;
}
