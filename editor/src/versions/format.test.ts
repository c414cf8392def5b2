import { describe, expect, it } from "vitest";
import { authorOf, looksLikeSemver, relativeTime } from "./format";

describe("how a version is worded", () => {
  const now = Date.parse("2026-11-28T16:00:00Z");

  it("says how long ago it was saved", () => {
    expect(relativeTime("2026-11-28T15:59:30Z", now)).toBe("just now");
    expect(relativeTime("2026-11-28T15:55:00Z", now)).toBe("5 min ago");
    expect(relativeTime("2026-11-28T13:00:00Z", now)).toBe("3 h ago");
    expect(relativeTime("2026-11-27T15:00:00Z", now)).toBe("1 day ago");
    expect(relativeTime("2026-11-01T00:00:00Z", now)).toBe("2026-11-01");
    expect(relativeTime("not a date", now)).toBe("");
  });

  it("names the author, or says the account is gone", () => {
    expect(authorOf("ada@example.com")).toBe("ada@example.com");
    expect(authorOf(null)).toBe("someone no longer here");
  });

  it("hints at semantic versions only (the server decides)", () => {
    for (const tag of ["1.0.0", "v2.10.3", "1.0.0-rc.1", "1.0.0+build.5"]) expect(looksLikeSemver(tag)).toBe(true);
    for (const tag of ["1.0", "banana", "01.0.0", "1.0.0.0", `1.0.0-${"x".repeat(40)}`])
      expect(looksLikeSemver(tag)).toBe(false);
  });
});
