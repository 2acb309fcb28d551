import type ExcelJS from "exceljs";
import type { ExtractedDocument, ExtractedSection } from "../types.ts";

/*
 * Excel (.xlsx) with exceljs. One section per sheet (headings [sheet name]). Single-cell rows
 * before the table (captions such as a merged title) are kept as plain lines; the first row with
 * two or more text-only cells is the header (with the next row merged in when it is text-only
 * too and data follows); every later row becomes `header: value; …`.
 * Without a header, rows are `a | b | c`. Merged cells count once; formulas show their cached
 * result; empty rows are skipped. Rows are grouped in paragraphs of 50.
 */

const ROWS_PER_PARAGRAPH = 50;

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(12)));
}

function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) return "";
  const iso = d.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.slice(0, 19).replace("T", " ");
}

/** Display text of an exceljs cell value (rich text, formulas, hyperlinks, errors, dates). */
export function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value.replace(/\s+/g, " ").trim();
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (value instanceof Date) return formatDate(value);
  if (typeof value === "object") {
    if ("richText" in value && Array.isArray(value.richText)) {
      return value.richText
        .map((r) => r.text)
        .join("")
        .replace(/\s+/g, " ")
        .trim();
    }
    if ("formula" in value || "sharedFormula" in value) {
      return cellText((value as { result?: ExcelJS.CellValue }).result ?? null);
    }
    if ("text" in value && typeof value.text === "string") return value.text.replace(/\s+/g, " ").trim();
    if ("error" in value) return String(value.error);
  }
  return "";
}

interface RowCells {
  cells: Map<number, string>;
  allText: boolean;
}

function readRows(ws: ExcelJS.Worksheet): RowCells[] {
  const rows: RowCells[] = [];
  ws.eachRow({ includeEmpty: false }, (row) => {
    const cells = new Map<number, string>();
    let allText = true;
    row.eachCell({ includeEmpty: false }, (cell, col) => {
      if (cell.isMerged && cell.master.address !== cell.address) return;
      const text = cellText(cell.value);
      if (!text) return;
      cells.set(col, text);
      const v = cell.value;
      const isText =
        typeof v === "string" ||
        (typeof v === "object" && v !== null && ("richText" in v || "hyperlink" in v));
      if (!isText || /^[-+]?[\d.,%\s]+$/.test(text)) allText = false;
    });
    if (cells.size > 0) rows.push({ cells, allText });
  });
  return rows;
}

function sheetText(rows: RowCells[]): string {
  const paragraphs: string[] = [];
  const captions: string[] = [];
  let header: Map<number, string> | null = null;
  let lines: string[] = [];
  const flushLines = (): void => {
    if (lines.length) paragraphs.push(lines.join("\n"));
    lines = [];
  };
  let skip = -1;
  for (const [i, row] of rows.entries()) {
    if (i === skip) continue;
    if (!header) {
      if (row.cells.size >= 2 && row.allText && i < rows.length - 1) {
        header = new Map(row.cells);
        // A second text-only row right under the header, followed by data, continues the header
        // (e.g. a period over the column names): merge it column by column.
        const next = rows[i + 1]!;
        const after = rows[i + 2];
        if (next.cells.size >= 2 && next.allText && after && !after.allText) {
          for (const [col, text] of next.cells) {
            const top = header.get(col);
            header.set(col, top ? `${top} ${text}` : text);
          }
          skip = i + 1;
        }
        if (captions.length) paragraphs.push(captions.join("\n"));
        captions.length = 0;
        continue;
      }
      if (row.cells.size === 1) {
        captions.push([...row.cells.values()][0]!);
        continue;
      }
    }
    const parts: string[] = [];
    for (const [col, text] of [...row.cells.entries()].sort((a, b) => a[0] - b[0])) {
      const h = header?.get(col);
      parts.push(h ? `${h}: ${text}` : text);
    }
    lines.push(parts.join(header ? "; " : " | "));
    if (lines.length >= ROWS_PER_PARAGRAPH) flushLines();
  }
  if (captions.length) paragraphs.push(captions.join("\n"));
  flushLines();
  return paragraphs.join("\n\n");
}

/**
 * Extracts a .xlsx workbook: one section per sheet (hidden sheets included, "very hidden" ones
 * skipped), in workbook order. Title: the workbook's `title` property when set.
 * Throws whatever exceljs throws for damaged files (the caller wraps it).
 */
export async function extractXlsx(bytes: Buffer): Promise<ExtractedDocument> {
  // Loaded on demand: memory without workbooks never carries exceljs.
  const { default: excel } = await import("exceljs");
  const wb = new excel.Workbook();
  // exceljs's typings expect the pre-Node-20 Buffer type; the bytes are the same.
  await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  const sections: ExtractedSection[] = [];
  for (const ws of wb.worksheets) {
    if (ws.state === "veryHidden") continue;
    const text = sheetText(readRows(ws));
    if (text) sections.push({ headings: [ws.name], text });
  }
  const title = wb.title?.trim();
  return title ? { title, sections } : { sections };
}
