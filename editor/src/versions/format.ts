/** How the Versions panel words a version: its time, its author, whether a tag looks right. */
import type { VersionSummary } from "../api/sharing";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "2 days ago", then the date. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "";
  const ago = Math.max(0, now - at);
  if (ago < MINUTE) return "just now";
  if (ago < HOUR) return `${Math.floor(ago / MINUTE)} min ago`;
  if (ago < DAY) return `${Math.floor(ago / HOUR)} h ago`;
  if (ago < 7 * DAY) {
    const days = Math.floor(ago / DAY);
    return `${days} day${days === 1 ? "" : "s"} ago`;
  }
  return new Date(at).toISOString().slice(0, 10);
}

export function authorOf(createdBy: VersionSummary["createdBy"]): string {
  return createdBy || "someone no longer here";
}

const MAX_TAG = 40;
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** A hint while typing only: the server decides (422 invalid_version_tag) and its message is
 * what the form shows after submitting. */
export function looksLikeSemver(tag: string): boolean {
  return tag.length <= MAX_TAG && SEMVER.test(tag.trim());
}
