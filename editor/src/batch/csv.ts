/**
 * The Batch dialog's reading of a CSV (RFC 4180: quoted cells may hold commas, quotes doubled,
 * and line breaks) and its mapping of the header onto the workflow's input nodes, as the server
 * maps it (executions/batch_results.py, services.resolve_inputs): a column names an input node
 * by id, else by label ignoring case and surrounding spaces. Pure, for the preview; the server
 * reads the file again and has the last word.
 */

export interface CsvTable {
  header: string[];
  /** Data rows (blank lines dropped), each as long as it was written. */
  rows: string[][];
}

export class CsvError extends Error {}

/** Parse CSV text. A quote left open is an error; a byte-order mark is skipped. */
export function parseCsv(text: string): CsvTable {
  const records = readRecords(text.startsWith("\ufeff") ? text.slice(1) : text);
  const nonBlank = records.filter((r) => r.some((cell) => cell.trim() !== ""));
  if (nonBlank.length === 0) return { header: [], rows: [] };
  const [first, ...rows] = nonBlank;
  return { header: first.map((name) => name.trim()), rows };
}

function readRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') {
        quoted = false;
        i += 1;
        continue;
      }
      cell += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && cell === "") {
      quoted = true;
      i += 1;
      continue;
    }
    if (ch === ",") {
      record.push(cell);
      cell = "";
      i += 1;
      continue;
    }
    if (ch === "\r" || ch === "\n") {
      record.push(cell);
      records.push(record);
      record = [];
      cell = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
      continue;
    }
    cell += ch;
    i += 1;
  }
  if (quoted) throw new CsvError("A quoted cell is never closed");
  if (cell !== "" || record.length > 0) {
    record.push(cell);
    records.push(record);
  }
  return records;
}

/** An input node as the mapping needs it. */
export interface InputNode {
  nodeId: string;
  label: string;
}

export interface ColumnMapping {
  column: string;
  /** The input node this column fills; null: no input node has this id or label. */
  nodeId: string | null;
}

export function mapColumns(header: readonly string[], inputs: readonly InputNode[]): ColumnMapping[] {
  const byId = new Map(inputs.map((i) => [i.nodeId, i.nodeId]));
  const byLabel = new Map(inputs.map((i) => [i.label.trim().toLowerCase(), i.nodeId]));
  return header.map((column) => ({
    column,
    nodeId: byId.get(column) ?? byLabel.get(column.trim().toLowerCase()) ?? null,
  }));
}

export interface Preview {
  mapping: ColumnMapping[];
  unknownColumns: string[];
  /** Header problems (empty or repeated names) and rows longer than the header. */
  problems: string[];
  /** The first rows as input node id -> value (empty cells left out: the node keeps its own). */
  rows: Array<Record<string, string>>;
  total: number;
}

/** What the dialog shows before running: the first `limit` rows mapped onto the inputs. */
export function previewRows(table: CsvTable, inputs: readonly InputNode[], limit = 5): Preview {
  const mapping = mapColumns(table.header, inputs);
  const problems: string[] = [];
  if (table.header.length === 0) problems.push("No header row: the first line names the inputs");
  if (table.header.some((name) => name === "")) problems.push("The header has an empty column name");
  const repeated = table.header.filter((name, i) => name !== "" && table.header.indexOf(name) !== i);
  if (repeated.length) problems.push(`The header repeats a column: ${[...new Set(repeated)].join(", ")}`);
  const long = table.rows.findIndex((row) => row.length > table.header.length);
  if (long >= 0) problems.push(`Row ${long + 1} has more cells than the header has columns`);
  return {
    mapping,
    unknownColumns: mapping.filter((m) => m.nodeId === null).map((m) => m.column),
    problems,
    rows: table.rows.slice(0, limit).map((row) => rowInputs(row, mapping)),
    total: table.rows.length,
  };
}

function rowInputs(row: readonly string[], mapping: readonly ColumnMapping[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  mapping.forEach((m, i) => {
    const cell = row[i] ?? "";
    if (m.nodeId !== null && cell !== "") inputs[m.nodeId] = cell;
  });
  return inputs;
}

/** A CSV template for the workflow: the header (input labels, or ids where labels repeat). */
export function csvHeaderFor(inputs: readonly InputNode[]): string {
  const labels = inputs.map((i) => i.label.trim().toLowerCase());
  return inputs
    .map((i, n) => quote(labels.indexOf(labels[n]) === labels.lastIndexOf(labels[n]) ? i.label : i.nodeId))
    .join(",");
}

function quote(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}
