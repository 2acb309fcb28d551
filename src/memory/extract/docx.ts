import JSZip from "jszip";
import type { ExtractedDocument } from "../types.ts";
import { htmlToDocument } from "./html.ts";
import { meaningfulTitle, readCoreTitle } from "./office.ts";

/** Word styles mapped beyond mammoth's defaults: the "Title" paragraph becomes the document title. */
const STYLE_MAP = ["p[style-name='Title'] => p.atom-title:fresh", "p[style-name='Subtitle'] => p:fresh"];

/**
 * Extracts a .docx with mammoth (→ HTML → sections at h1–h6; tables as `cell | cell` rows).
 * Title: the paragraph in Word's "Title" style, else docProps/core.xml `dc:title` when meaningful,
 * else the first heading. Throws whatever mammoth/jszip throw for damaged files (the caller wraps it).
 */
export async function extractDocx(bytes: Buffer, fileName: string): Promise<ExtractedDocument> {
  // Loaded on demand: memory without Word files never carries mammoth.
  const { default: mammoth } = await import("mammoth");
  const result = await mammoth.convertToHtml(
    { buffer: bytes },
    { styleMap: STYLE_MAP, ignoreEmptyParagraphs: true },
  );
  const doc = htmlToDocument(result.value, "docx");
  if (doc.title && result.value.includes('class="atom-title"')) return doc;
  const core = meaningfulTitle(await readCoreTitle(await JSZip.loadAsync(bytes)), fileName);
  if (core) return { ...doc, title: core };
  return doc;
}
