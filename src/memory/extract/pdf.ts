import { getDocumentProxy, getMeta } from "unpdf";
import type { ExtractedDocument, ExtractedSection } from "../types.ts";
import { ExtractError, toExtractError } from "./errors.ts";
import { meaningfulTitle } from "./office.ts";

/*
 * PDF text with unpdf 1.4 (PDF.js bundled for servers; it carries its own Promise.withResolvers
 * polyfill, so it runs on Node 20). One section per page, headed `Page N`. Lines come from the text
 * items' end-of-line flags; a vertical gap clearly larger than the page's tightest line spacing
 * (×1.4) and larger than 1.6 line heights starts a new paragraph;
 * a word hyphenated across lines ("dan-" + "gerous") is joined.
 */

interface Line {
  text: string;
  y: number;
  height: number;
}

interface TextItemLike {
  str: string;
  transform: number[];
  height: number;
  hasEOL: boolean;
}

function isTextItem(item: unknown): item is TextItemLike {
  return typeof item === "object" && item !== null && typeof (item as { str?: unknown }).str === "string";
}

function linesOf(items: unknown[]): Line[] {
  const lines: Line[] = [];
  let cur: Line | null = null;
  for (const item of items) {
    if (!isTextItem(item)) continue;
    const y = item.transform[5] ?? 0;
    if (cur && item.str !== "" && Math.abs(y - cur.y) > Math.max(cur.height, item.height, 1) * 0.8) {
      lines.push(cur);
      cur = null;
    }
    if (!cur) cur = { text: "", y, height: item.height };
    cur.text += item.str;
    if (item.height > cur.height) cur.height = item.height;
    if (item.hasEOL) {
      lines.push(cur);
      cur = null;
    }
  }
  if (cur) lines.push(cur);
  return lines.map((l) => ({ ...l, text: l.text.replace(/\s+/g, " ").trim() })).filter((l) => l.text !== "");
}

function paragraphsOf(lines: Line[]): string[] {
  // The tightest regular line spacing on the page is "same paragraph"; clearly more is a break.
  let minGap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < lines.length; i++) {
    const gap = lines[i - 1]!.y - lines[i]!.y;
    if (gap > Math.max(lines[i]!.height, 1) * 0.5 && gap < minGap) minGap = gap;
  }
  const paragraphs: string[] = [];
  let para = "";
  let prev: Line | null = null;
  for (const line of lines) {
    const lineHeight = Math.max(prev?.height ?? 0, line.height, 1);
    const gap = prev ? prev.y - line.y : 0;
    const threshold = Math.max(lineHeight * 1.6, minGap * 1.4);
    const newParagraph = prev !== null && (gap > threshold || gap < -lineHeight);
    if (newParagraph && para) {
      paragraphs.push(para);
      para = "";
    }
    if (!para) para = line.text;
    else if (/\p{Ll}-$/u.test(para) && /^\p{Ll}/u.test(line.text)) para = para.slice(0, -1) + line.text;
    else para += ` ${line.text}`;
    prev = line;
  }
  if (para) paragraphs.push(para);
  return paragraphs;
}

/** Maps PDF.js exceptions to short reasons. */
function pdfError(err: unknown): ExtractError {
  const name = (err as { name?: string } | null)?.name;
  if (name === "PasswordException") return new ExtractError("PDF is password-protected", { cause: err });
  return toExtractError(err, "PDF is damaged");
}

/**
 * Extracts a PDF: one section per page with headings [`Page N`]; title from the document
 * information dictionary when meaningful (not empty, generic or a file name).
 * Errors: ExtractError "PDF is damaged: …", "PDF is password-protected", "PDF has no text layer"
 * (a scan without OCR). Checks `signal` between pages and stops once it is aborted.
 */
export async function extractPdf(
  bytes: Buffer,
  fileName: string,
  signal?: AbortSignal,
): Promise<ExtractedDocument> {
  // PDF.js may detach the buffer it is given: hand it a copy.
  const data = new Uint8Array(bytes.byteLength);
  data.set(bytes);
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    pdf = await getDocumentProxy(data, { verbosity: 0, isEvalSupported: false, stopAtErrors: false });
  } catch (err) {
    throw pdfError(err);
  }
  try {
    const sections: ExtractedSection[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      // PDF.js works in promise jobs; yield to the event loop so a time limit can fire, and stop
      // once the caller has given up.
      await new Promise((resolve) => setImmediate(resolve));
      if (signal?.aborted) throw new ExtractError("PDF extraction was cancelled");
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      const text = paragraphsOf(linesOf(content.items)).join("\n\n");
      page.cleanup();
      if (text) sections.push({ headings: [`Page ${n}`], text });
    }
    if (sections.length === 0) throw new ExtractError("PDF has no text layer");
    let title: string | undefined;
    try {
      const meta = await getMeta(pdf);
      const info = meta.info as { Title?: unknown } | undefined;
      title = meaningfulTitle(typeof info?.Title === "string" ? info.Title : undefined, fileName);
    } catch {
      // Metadata is optional; the text is what matters.
    }
    return title ? { title, sections } : { sections };
  } catch (err) {
    throw err instanceof ExtractError ? err : pdfError(err);
  } finally {
    await pdf.destroy().catch(() => undefined);
  }
}
