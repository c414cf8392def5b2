import { describe, expect, it } from "vitest";
import { CsvError, csvHeaderFor, mapColumns, parseCsv, previewRows } from "./csv";
import { batchCredits, isSettled, mediaKind, progressText, segments } from "./progress";

const INPUTS = [
  { nodeId: "prompt", label: "Prompt" },
  { nodeId: "style", label: "Style" },
];

describe("parseCsv", () => {
  it("reads quoted commas, doubled quotes and line breaks", () => {
    const table = parseCsv('Prompt,Style\r\n"a, b","say ""hi""\nthere"\r\nc,d');
    expect(table).toEqual({
      header: ["Prompt", "Style"],
      rows: [
        ["a, b", 'say "hi"\nthere'],
        ["c", "d"],
      ],
    });
  });
  it("drops blank lines, a byte-order mark and trims header names", () => {
    expect(parseCsv("\ufeff Prompt \n\nfox\n\n")).toEqual({ header: ["Prompt"], rows: [["fox"]] });
  });
  it("keeps empty cells", () => {
    expect(parseCsv("a,b,c\n,x,\n").rows).toEqual([["", "x", ""]]);
  });
  it("refuses a quote that is never closed", () => {
    expect(() => parseCsv('a\n"open')).toThrow(CsvError);
  });
  it("reads nothing from an empty text", () => {
    expect(parseCsv("")).toEqual({ header: [], rows: [] });
  });
});

describe("mapping columns onto input nodes", () => {
  it("matches ids first, then labels ignoring case, and flags the rest", () => {
    expect(mapColumns(["style", "PROMPT ", "Colour"], INPUTS)).toEqual([
      { column: "style", nodeId: "style" },
      { column: "PROMPT ", nodeId: "prompt" },
      { column: "Colour", nodeId: null },
    ]);
  });
  it("previews the first rows keyed by node id, empty cells left out", () => {
    const preview = previewRows(parseCsv("Prompt,Colour,Style\nfox,red,\nowl,blue,sketch\nbat,,x\n"), INPUTS, 2);
    expect(preview.rows).toEqual([{ prompt: "fox" }, { prompt: "owl", style: "sketch" }]);
    expect(preview.unknownColumns).toEqual(["Colour"]);
    expect(preview.total).toBe(3);
    expect(preview.problems).toEqual([]);
  });
  it("names header problems and rows longer than the header", () => {
    const preview = previewRows(parseCsv("Prompt,Prompt\na,b,c\n"), INPUTS);
    expect(preview.problems).toEqual([
      "The header repeats a column: Prompt",
      "Row 1 has more cells than the header has columns",
    ]);
  });
  it("writes a header of labels, ids where labels repeat, quoted when needed", () => {
    expect(
      csvHeaderFor([
        { nodeId: "a", label: "Same" },
        { nodeId: "b", label: "same" },
        { nodeId: "c", label: "x, y" },
      ]),
    ).toBe('a,b,"x, y"');
  });
});

describe("progress", () => {
  const batch = { status: "RUNNING" as const, total: 20, completed: 10, failed: 2, running: 5, cancelled: 0 };
  it("splits the bar by status, in percent of the total", () => {
    expect(segments(batch)).toEqual([
      { kind: "completed", count: 10, percent: 50 },
      { kind: "failed", count: 2, percent: 10 },
      { kind: "running", count: 5, percent: 25 },
    ]);
  });
  it("says done, failed and running of the total", () => {
    expect(progressText(batch)).toBe("12 / 20 done · 2 failed · 5 running");
  });
  it("is settled once the batch ended and nothing runs", () => {
    expect(isSettled(batch)).toBe(false);
    expect(isSettled({ status: "CANCELLED", running: 1 })).toBe(false);
    expect(isSettled({ status: "COMPLETED", running: 0 })).toBe(true);
  });
  it("tells images and videos from other links", () => {
    expect(mediaKind("https://x.test/a.PNG?sig=1")).toBe("image");
    expect(mediaKind("/media/b.mp4")).toBe("video");
    expect(mediaKind("https://x.test/page")).toBe("link");
  });
  it("multiplies one run's estimate by the rows", () => {
    expect(batchCredits(0.1, 3)).toBe(0.3);
    expect(batchCredits(20, 1000)).toBe(20000);
  });
});
