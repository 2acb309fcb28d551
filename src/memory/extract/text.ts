import Papa from "papaparse";
import type { ExtractedDocument, ExtractedSection } from "../types.ts";
import { ExtractError } from "./errors.ts";

/**
 * Decodes bytes as UTF-8 (a BOM is dropped), or UTF-16 when a UTF-16 BOM is present; bytes that
 * are not valid UTF-8 are read as Windows-1252, the usual encoding of such legacy text files —
 * unless they are mostly valid UTF-8 with a few damaged bytes (see legacyOrDamagedUtf8).
 * CRLF and CR become LF.
 */
export function decodeText(bytes: Uint8Array): string {
  let text: string;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) text = new TextDecoder("utf-16le").decode(bytes);
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) text = new TextDecoder("utf-16be").decode(bytes);
  else
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      text = legacyOrDamagedUtf8(bytes);
    }
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}

/**
 * Bytes that are not valid UTF-8: Windows-1252 text, or UTF-8 with a few damaged bytes. Valid
 * multi-byte UTF-8 sequences almost never occur by chance in Windows-1252 text, so when they
 * outnumber the invalid bytes the file is read as UTF-8 (invalid bytes become U+FFFD) instead of
 * garbling every accented letter of it.
 */
function legacyOrDamagedUtf8(bytes: Uint8Array): string {
  const utf8 = new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes);
  let valid = 0;
  let invalid = 0;
  for (const ch of utf8) {
    if (ch === "\uFFFD") invalid++;
    else if (ch.codePointAt(0)! > 0x7f) valid++;
  }
  return valid > invalid ? utf8 : new TextDecoder("windows-1252").decode(bytes);
}

/** Plain text: one section (no headings) whose paragraphs are the blank-line separated blocks. */
export function extractPlainText(text: string): ExtractedDocument {
  const paragraphs = text
    .split(/\n[ \t]*\n/)
    .map((p) => p.replace(/[ \t]+$/gm, "").replace(/^\n+|\n+$/g, ""))
    .filter((p) => p.trim() !== "");
  return { sections: paragraphs.length ? [{ headings: [], text: paragraphs.join("\n\n") }] : [] };
}

/** Rows per CSV section. */
export const CSV_ROWS_PER_SECTION = 50;

function looksLikeHeader(row: string[]): boolean {
  const cells = row.map((c) => c.trim());
  const filled = cells.filter((c) => c !== "");
  return (
    filled.length >= 1 &&
    filled.length === cells.length &&
    filled.every((c) => !/^[-+]?[\d.,%$€£ ]+$/.test(c))
  );
}

/**
 * CSV/TSV (delimiter detected by papaparse): when the first row looks like a header (all cells
 * filled, none numeric), each following row becomes `col: value; col: value` (empty values
 * skipped); otherwise rows are `a | b | c`. Sections of {@link CSV_ROWS_PER_SECTION} rows with the
 * heading `Rows a–b` (1-based data rows).
 */
export function extractCsv(text: string): ExtractedDocument {
  const parsed = Papa.parse<string[]>(text, { skipEmptyLines: "greedy" });
  const fatal = parsed.errors.find((e) => e.type === "Delimiter" && parsed.data.length === 0);
  if (fatal) throw new ExtractError(`CSV could not be parsed: ${fatal.message}`);
  const rows = parsed.data.filter((r) => Array.isArray(r) && r.some((c) => String(c).trim() !== ""));
  if (rows.length === 0) return { sections: [] };
  const header = rows.length > 1 && looksLikeHeader(rows[0]!) ? rows[0]!.map((c) => c.trim()) : null;
  const data = header ? rows.slice(1) : rows;
  const lines = data.map((row) => {
    if (!header) return row.map((c) => c.trim()).join(" | ");
    const parts: string[] = [];
    row.forEach((cell, i) => {
      const v = cell.trim();
      if (v === "") return;
      const h = header[i];
      parts.push(h ? `${h}: ${v}` : v);
    });
    return parts.join("; ");
  });
  const sections: ExtractedSection[] = [];
  for (let start = 0; start < lines.length; start += CSV_ROWS_PER_SECTION) {
    const chunk = lines.slice(start, start + CSV_ROWS_PER_SECTION).filter((l) => l !== "");
    if (chunk.length === 0) continue;
    const end = Math.min(start + CSV_ROWS_PER_SECTION, lines.length);
    sections.push({ headings: [`Rows ${start + 1}–${end}`], text: chunk.join("\n") });
  }
  return { sections };
}
