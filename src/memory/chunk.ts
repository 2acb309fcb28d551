import type { ChunkDraft, ExtractedDocument } from "./types.ts";

/** Size bounds of a chunk, in UTF-16 code units (JavaScript string length). */
export interface ChunkOptions {
  /** Chunks are filled with whole paragraphs up to about this size. */
  targetSize: number;
  /** No chunk is ever longer than this, even for a single giant line. */
  maxSize: number;
  /** A trailing piece shorter than this is merged into the previous chunk when it fits. */
  minSize: number;
}

/**
 * Passages of about 500 characters (a few sentences or a short list) measured best on the
 * handbook question set (bench/README.md); larger chunks dilute full-text scores.
 */
export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { targetSize: 500, maxSize: 900, minSize: 100 };

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Splits an extracted document into chunks that follow its structure: one section (text under one
 * heading path) never shares a chunk with another; inside a section, whole paragraphs are packed up
 * to `targetSize`; a paragraph longer than `maxSize` is cut at sentence, then word, then grapheme
 * boundaries, so a chunk never splits a character (surrogate pairs, emoji, combining marks).
 * Every chunk keeps the heading path of its section.
 */
export function chunkDocument(
  doc: ExtractedDocument,
  opts: ChunkOptions = DEFAULT_CHUNK_OPTIONS,
): ChunkDraft[] {
  const out: ChunkDraft[] = [];
  for (const section of doc.sections) {
    const paragraphs = splitParagraphs(section.text);
    if (paragraphs.length === 0) continue;
    for (const text of packParagraphs(paragraphs, opts)) {
      out.push({ chunkIndex: out.length, headings: section.headings, text });
    }
  }
  return out;
}

/** Paragraphs are separated by blank lines; whitespace inside is normalised, line breaks kept. */
function splitParagraphs(text: string): string[] {
  return text
    .replace(/\r\n?/g, "\n")
    .split(/\n[ \t]*\n+/)
    .map((p) =>
      p
        .split("\n")
        .map((l) => l.replace(/[ \t\u00a0]+/g, " ").trimEnd())
        .join("\n")
        .trim(),
    )
    .filter((p) => p.length > 0);
}

function packParagraphs(paragraphs: string[], opts: ChunkOptions): string[] {
  const pieces: string[] = [];
  for (const p of paragraphs) {
    if (p.length <= opts.maxSize) pieces.push(p);
    else pieces.push(...splitLong(p, opts));
  }
  const chunks: string[] = [];
  let current = "";
  for (const piece of pieces) {
    if (current.length === 0) {
      current = piece;
    } else if (current.length + 2 + piece.length <= opts.targetSize) {
      current += `\n\n${piece}`;
    } else {
      chunks.push(current);
      current = piece;
    }
  }
  if (current.length > 0) {
    const last = chunks.at(-1);
    if (
      last !== undefined &&
      current.length < opts.minSize &&
      last.length + 2 + current.length <= opts.maxSize
    ) {
      chunks[chunks.length - 1] = `${last}\n\n${current}`;
    } else {
      chunks.push(current);
    }
  }
  return chunks;
}

/** Cuts an over-long paragraph at sentence/line ends, then spaces, then grapheme boundaries. */
function splitLong(text: string, opts: ChunkOptions): string[] {
  const units = text.split(/(?<=[.!?。！？\n])\s+/u).filter((s) => s.length > 0);
  const out: string[] = [];
  let current = "";
  const flush = () => {
    if (current.length > 0) out.push(current);
    current = "";
  };
  for (const unit of units) {
    if (unit.length > opts.maxSize) {
      flush();
      out.push(...splitByWords(unit, opts));
      continue;
    }
    if (current.length === 0) current = unit;
    else if (current.length + 1 + unit.length <= opts.targetSize) current += ` ${unit}`;
    else {
      flush();
      current = unit;
    }
  }
  flush();
  return out;
}

function splitByWords(text: string, opts: ChunkOptions): string[] {
  const words = text.split(/(\s+)/u);
  const out: string[] = [];
  let current = "";
  for (const w of words) {
    if (w.length > opts.maxSize) {
      if (current.trim().length > 0) out.push(current.trim());
      current = "";
      out.push(...splitByGraphemes(w, opts.targetSize));
      continue;
    }
    if (current.length + w.length > opts.targetSize && current.trim().length > 0) {
      out.push(current.trim());
      current = w.trimStart();
    } else {
      current += w;
    }
  }
  if (current.trim().length > 0) out.push(current.trim());
  return out;
}

/** Printable ASCII only: every position between two such characters is a grapheme boundary. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Cuts text into pieces of at most `size` code units without splitting a grapheme cluster.
 * Only a window of `size + 2` code units is segmented per piece: Intl.Segmenter slows down
 * quadratically on long strings (a 1 MB line would take minutes), so cost stays linear.
 * A cluster longer than `size` (thousands of combining marks) is cut between code points so the
 * bound holds; a surrogate pair is still never split.
 */
export function splitByGraphemes(text: string, size: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (text.length - start > size) {
    const cut = graphemeCut(text, start, size);
    out.push(text.slice(start, start + cut));
    start += cut;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/**
 * Length of the longest prefix of `text` from `start` (a grapheme boundary) that ends on a
 * grapheme boundary and is at most `size` long; `text` continues past `start + size`.
 */
function graphemeCut(text: string, start: number, size: number): number {
  // The window holds the whole code point after the cut (2 code units when it is a surrogate
  // pair), so every boundary up to `size` is a true one.
  const window = text.slice(start, start + size + 2);
  if (PRINTABLE_ASCII.test(window)) return size;
  let cut = 0;
  for (const { index } of graphemes.segment(window)) {
    if (index > size) break;
    cut = index;
  }
  if (cut > 0) return cut;
  // A pathological cluster longer than `size`: cut between code points.
  cut = size;
  const before = text.charCodeAt(start + cut - 1);
  if (before >= 0xd800 && before <= 0xdbff) cut--;
  return Math.max(cut, text.codePointAt(start)! > 0xffff ? 2 : 1);
}
