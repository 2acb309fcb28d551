import type { ExtractedDocument, ExtractedSection } from "../types.ts";
import { ExtractError, toExtractError } from "./errors.ts";
import { extractMarkdown } from "./markdown.ts";
import { decodeText, extractCsv, extractPlainText } from "./text.ts";

export { ExtractError } from "./errors.ts";
export { extractMarkdown } from "./markdown.ts";

type Format = "markdown" | "text" | "csv" | "html" | "pdf" | "docx" | "pptx" | "xlsx";

const BY_EXTENSION: Record<string, { format: Format; mime: string }> = {
  ".md": { format: "markdown", mime: "text/markdown" },
  ".markdown": { format: "markdown", mime: "text/markdown" },
  ".txt": { format: "text", mime: "text/plain" },
  ".csv": { format: "csv", mime: "text/csv" },
  ".tsv": { format: "csv", mime: "text/tab-separated-values" },
  ".html": { format: "html", mime: "text/html" },
  ".htm": { format: "html", mime: "text/html" },
  ".pdf": { format: "pdf", mime: "application/pdf" },
  ".docx": {
    format: "docx",
    mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  },
  ".pptx": {
    format: "pptx",
    mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  },
  ".xlsx": { format: "xlsx", mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
};

/** MIME types accepted when the file name has no known extension (parameters like charset ignored). */
const BY_MIME: Record<string, Format> = {
  "text/markdown": "markdown",
  "text/x-markdown": "markdown",
  "text/plain": "text",
  "text/csv": "csv",
  "text/tab-separated-values": "csv",
  "text/html": "html",
  "application/xhtml+xml": "html",
  "application/pdf": "pdf",
  ...Object.fromEntries(
    Object.values(BY_EXTENSION)
      .filter((e) => e.mime.startsWith("application/vnd."))
      .map((e) => [e.mime, e.format]),
  ),
};

const TEXT_FORMATS = new Set<Format>(["markdown", "text", "csv", "html"]);

/** Human label used in failure reasons ("PDF is damaged: …"). */
const LABEL: Record<Format, string> = {
  markdown: "Markdown file",
  text: "Text file",
  csv: "CSV file",
  html: "HTML file",
  pdf: "PDF",
  docx: "Word document",
  pptx: "PowerPoint file",
  xlsx: "Excel workbook",
};

/** File extensions Atom can extract, lower-case with the leading dot. */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.freeze(Object.keys(BY_EXTENSION));

/** Default time limit for extracting one file, ms. */
export const EXTRACT_TIMEOUT_MS = 30_000;

/** Default size limit for one file, bytes (100 MiB). */
export const EXTRACT_MAX_BYTES = 100 * 1024 * 1024;

function extensionOf(fileName: string): string {
  const base = fileName.replace(/^.*[\\/]/, "");
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot).toLowerCase() : "";
}

/** True when the file's extension (case-insensitive) is one of {@link SUPPORTED_EXTENSIONS}. */
export function isSupportedFile(fileName: string): boolean {
  return extensionOf(fileName) in BY_EXTENSION;
}

/**
 * True when Atom can extract a file by its extension or, without a known extension, by its MIME
 * type (a Drive file named `README` of type `text/plain`).
 */
export function isExtractable(fileName: string, mime?: string): boolean {
  return formatOf(fileName, mime) !== undefined;
}

/** MIME type for a file name by extension; `application/octet-stream` when unknown. */
export function mimeFromFileName(fileName: string): string {
  return BY_EXTENSION[extensionOf(fileName)]?.mime ?? "application/octet-stream";
}

function formatOf(fileName: string, mime?: string): Format | undefined {
  const byExt = BY_EXTENSION[extensionOf(fileName)]?.format;
  if (byExt) return byExt;
  const m = mime?.split(";")[0]?.trim().toLowerCase();
  return m ? BY_MIME[m] : undefined;
}

async function run(
  format: Format,
  bytes: Buffer,
  fileName: string,
  signal: AbortSignal,
): Promise<ExtractedDocument> {
  switch (format) {
    case "markdown":
      return extractMarkdown(decodeText(bytes));
    case "text":
      return extractPlainText(decodeText(bytes));
    case "csv":
      return extractCsv(decodeText(bytes));
    // Parsers of binary formats are loaded on first use: most folders never need them, and
    // together they would add seconds to every start.
    case "html":
      return (await import("./html.ts")).extractHtml(bytes);
    case "pdf":
      return (await import("./pdf.ts")).extractPdf(bytes, fileName, signal);
    case "docx":
      return (await import("./docx.ts")).extractDocx(bytes, fileName);
    case "pptx":
      return (await import("./pptx.ts")).extractPptx(bytes, fileName);
    case "xlsx":
      return (await import("./xlsx.ts")).extractXlsx(bytes);
  }
}

// Control characters other than tab and newline (e.g. NUL from PDFs) are dropped from the output.
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KB`;
  return `${bytes} bytes`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

function clean(doc: ExtractedDocument): ExtractedDocument {
  const sections: ExtractedSection[] = [];
  for (const s of doc.sections) {
    const text = s.text.replace(CONTROL_RE, "").trim();
    if (!text) continue;
    const headings = s.headings
      .map((h) => h.replace(CONTROL_RE, "").replace(/\s+/g, " ").trim())
      .filter(Boolean);
    sections.push({ headings, text });
  }
  const title = doc.title?.replace(CONTROL_RE, "").replace(/\s+/g, " ").trim();
  return title ? { title, sections } : { sections };
}

/**
 * Extracts the text of one file, with its structure, for indexing.
 *
 * The extractor is chosen by the file name's extension (see {@link SUPPORTED_EXTENSIONS}), or by
 * `mime` when the extension is unknown (e.g. a Drive export without a suffix). Returns the
 * document's own title when it has one and its sections in reading order (`headings` = heading
 * path outermost-first; `text` = paragraphs separated by a blank line). Empty sections are dropped.
 *
 * An empty text file (md, txt, csv, html) gives a document without sections. Files larger than
 * `maxBytes` (default {@link EXTRACT_MAX_BYTES}) are refused before any parsing.
 * Every failure becomes an {@link ExtractError} with a short human `reason`: "file is empty"
 * (0-byte PDF/Office file), "file is too large (… MB; the limit is … MB)",
 * "unsupported file type .xyz", "PDF is damaged: …", "PDF has no text layer", "… timed out after
 * 30 s". A parser that runs longer than `timeoutMs` (default {@link EXTRACT_TIMEOUT_MS}) is
 * abandoned: its result is ignored and the PDF extractor stops at the next page. The limit is
 * checked whenever the parser yields to the event loop (PDF pages, zip inflation); a parser stuck
 * in one synchronous computation cannot be interrupted in-process.
 */
export async function extractDocument(input: {
  bytes: Buffer;
  fileName: string;
  mime?: string;
  timeoutMs?: number;
  maxBytes?: number;
}): Promise<ExtractedDocument> {
  const { bytes, fileName, mime } = input;
  const format = formatOf(fileName, mime);
  if (!format) {
    const ext = extensionOf(fileName);
    throw new ExtractError(
      ext ? `unsupported file type ${ext}` : `unsupported file type (${mime || "no extension"})`,
    );
  }
  const maxBytes = input.maxBytes ?? EXTRACT_MAX_BYTES;
  if (bytes.length > maxBytes) {
    throw new ExtractError(
      `file is too large (${formatSize(bytes.length)}; the limit is ${formatSize(maxBytes)})`,
    );
  }
  if (bytes.length === 0) {
    // An empty text file is a valid, empty document; an empty PDF or Office file is broken.
    if (TEXT_FORMATS.has(format)) return { sections: [] };
    throw new ExtractError("file is empty");
  }
  const timeoutMs = input.timeoutMs ?? EXTRACT_TIMEOUT_MS;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new ExtractError(`${LABEL[format]} timed out after ${formatDuration(timeoutMs)}`));
    }, timeoutMs);
  });
  try {
    const work = Promise.resolve().then(() => run(format, bytes, fileName, abort.signal));
    const doc = await Promise.race([work, timeout]);
    return clean(doc);
  } catch (err) {
    throw toExtractError(err, `${LABEL[format]} is damaged`);
  } finally {
    clearTimeout(timer);
  }
}
