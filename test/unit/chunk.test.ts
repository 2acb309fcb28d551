import { describe, expect, it } from "vitest";
import { chunkDocument, DEFAULT_CHUNK_OPTIONS, splitByGraphemes } from "../../src/memory/chunk.ts";
import type { ChunkDraft } from "../../src/memory/types.ts";

const { maxSize } = DEFAULT_CHUNK_OPTIONS;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const graphemesOf = (s: string) => [...segmenter.segment(s)].map((g) => g.segment);
const noSpace = (s: string) => s.replace(/\s+/gu, "");
/** A lone high or low surrogate anywhere in the string. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function chunkText(text: string): ChunkDraft[] {
  return chunkDocument({ sections: [{ headings: ["Top", "Sub"], text }] });
}

/** Every chunk is within bounds, keeps its headings and holds no broken surrogate pair. */
function expectWellFormed(chunks: ChunkDraft[]): void {
  expect(chunks.length).toBeGreaterThan(0);
  chunks.forEach((c, i) => {
    expect(c.chunkIndex).toBe(i);
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.text.length).toBeLessThanOrEqual(maxSize);
    expect(c.headings).toEqual(["Top", "Sub"]);
    expect(LONE_SURROGATE.test(c.text)).toBe(false);
  });
}

/** The grapheme clusters of all chunks, in order, are exactly those of the input (whitespace aside). */
function expectNoSplitGraphemes(input: string, chunks: ChunkDraft[]): void {
  const fromChunks = chunks.flatMap((c) => graphemesOf(noSpace(c.text)));
  expect(fromChunks).toEqual(graphemesOf(noSpace(input)));
}

describe("chunkDocument bounds", () => {
  it("cuts a 1 MB single line without spaces into chunks within maxSize, losing nothing", () => {
    const line = "abcdefghij".repeat(104_858);
    expect(line.length).toBeGreaterThanOrEqual(1 << 20);
    const chunks = chunkText(line);
    expectWellFormed(chunks);
    // Pieces are exact slices; only whitespace may be added where a short tail is merged.
    expect(noSpace(chunks.map((c) => c.text).join("")) === line).toBe(true);
  });

  it("cuts a 1 MB single line of words into chunks within maxSize, losing no word", () => {
    const words = ["policy", "budget", "remote", "travel", "x", "reimbursement", "a1b2c3"];
    const parts: string[] = [];
    let len = 0;
    for (let i = 0; len < 1 << 20; i++) {
      const w = words[i % words.length]!;
      parts.push(w);
      len += w.length + 1;
    }
    const line = parts.join(" ");
    const chunks = chunkText(line);
    expectWellFormed(chunks);
    expect(chunks.flatMap((c) => c.text.split(/\s+/))).toEqual(parts);
  });

  it("bounds a single line of sentences and very long words mixed", () => {
    const line = Array.from({ length: 400 }, (_, i) =>
      i % 7 === 0 ? "z".repeat(2500) : `Sentence ${i} ends here.`,
    ).join(" ");
    const chunks = chunkText(line);
    expectWellFormed(chunks);
    expect(noSpace(chunks.map((c) => c.text).join("")) === noSpace(line)).toBe(true);
  });
});

describe("chunkDocument and Unicode", () => {
  const family = "👨‍👩‍👧‍👦"; // ZWJ sequence, 11 code units
  const flags = "🇫🇷🇯🇵🇺🇦"; // regional indicator pairs
  const thumbs = "👍🏽"; // emoji + skin tone modifier
  const combining = "e\u0301a\u0308o\u0302\u0323"; // é ä ộ as combining sequences
  const astral = "𝒜𝓑𝔠"; // mathematical letters (surrogate pairs)

  it("never splits a grapheme in a long run of emoji and combining marks without spaces", () => {
    const text = `${family}${flags}${thumbs}${combining}${astral}😀`.repeat(300);
    const chunks = chunkText(text);
    expect(chunks.length).toBeGreaterThan(3);
    expectWellFormed(chunks);
    expect(noSpace(chunks.map((c) => c.text).join("")) === noSpace(text)).toBe(true);
    expectNoSplitGraphemes(text, chunks);
  });

  it("never splits a grapheme in emoji-laden prose", () => {
    const words = [family, `caf${combining}`, flags, "team", thumbs, "offsite", astral, `na${"\u0308"}ive`];
    const text = Array.from({ length: 1200 }, (_, i) => words[i % words.length]).join(" ");
    const chunks = chunkText(text);
    expectWellFormed(chunks);
    expectNoSplitGraphemes(text, chunks);
  });

  it("keeps a letter with hundreds of combining marks whole", () => {
    const cluster = `x${"\u0301\u0308\u0323".repeat(100)}`; // 301 code units, one grapheme
    expect(graphemesOf(cluster)).toHaveLength(1);
    const text = `${cluster}${cluster}abc${cluster}`.repeat(20);
    const chunks = chunkText(text);
    expectWellFormed(chunks);
    expectNoSplitGraphemes(text, chunks);
  });

  it("bounds a pathological cluster larger than a chunk without splitting a surrogate pair", () => {
    // One grapheme of 1 + 2 × 3000 code units: astral combining marks (U+1D167, a surrogate pair).
    const cluster = `a${"\u{1D167}".repeat(3000)}`;
    expect(graphemesOf(cluster)).toHaveLength(1);
    const chunks = chunkText(`before ${cluster} after`);
    expectWellFormed(chunks);
    expect(noSpace(chunks.map((c) => c.text).join(""))).toBe(noSpace(`before ${cluster} after`));
  });
});

describe("chunkDocument structure", () => {
  it("keeps sections apart, each chunk with its heading path", () => {
    const chunks = chunkDocument({
      title: "Handbook",
      sections: [
        { headings: ["Leave"], text: "Annual leave is 25 days.\n\nCarry over up to 5 days." },
        { headings: ["Leave", "Parental"], text: "Parental leave is 16 weeks." },
        { headings: [], text: "   \n\n  " },
        { headings: ["Travel"], text: "Book trains when the trip is under 4 hours." },
      ],
    });
    expect(chunks).toEqual([
      { chunkIndex: 0, headings: ["Leave"], text: "Annual leave is 25 days.\n\nCarry over up to 5 days." },
      { chunkIndex: 1, headings: ["Leave", "Parental"], text: "Parental leave is 16 weeks." },
      { chunkIndex: 2, headings: ["Travel"], text: "Book trains when the trip is under 4 hours." },
    ]);
  });

  it("packs paragraphs up to the target size and normalises spaces inside lines", () => {
    const para = "Word ".repeat(60).trim(); // 299 chars
    const chunks = chunkText([para, para, para, "Short\t\ttail."].join("\n\n"));
    expectWellFormed(chunks);
    expect(chunks.length).toBe(3);
    expect(chunks.at(-1)!.text.endsWith("Short tail.")).toBe(true);
  });
});

describe("splitByGraphemes", () => {
  it("cuts at grapheme boundaries within the size", () => {
    const pieces = splitByGraphemes("👨‍👩‍👧‍👦".repeat(5), 24);
    expect(pieces.every((p) => p.length <= 24)).toBe(true);
    expect(pieces.join("")).toBe("👨‍👩‍👧‍👦".repeat(5));
    for (const p of pieces) expect(graphemesOf(p).every((g) => g === "👨‍👩‍👧‍👦")).toBe(true);
  });

  it("returns nothing for empty text", () => {
    expect(splitByGraphemes("", 10)).toEqual([]);
  });
});
