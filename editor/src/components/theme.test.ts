import { describe, expect, it } from "vitest";
import { formatCreditsUsed } from "./theme";

describe("credits as a person reads them", () => {
  it("shows credits exact to the ledger's 4 decimals: a sub-cent charge is not 0", () => {
    expect(formatCreditsUsed(0.0022)).toBe("0.0022");
    expect(formatCreditsUsed(0.0001)).toBe("0.0001");
    expect(formatCreditsUsed(3.1867)).toBe("3.1867");
    expect(formatCreditsUsed(3.19)).toBe("3.19");
    expect(formatCreditsUsed(4)).toBe("4");
    expect(formatCreditsUsed(0.1 + 0.2)).toBe("0.3"); // float noise beyond the ledger's decimals
    expect(formatCreditsUsed(0)).toBe("0");
    expect(formatCreditsUsed(null)).toBe("0");
  });
});
