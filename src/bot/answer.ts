import type { SearchHit, SearchResult } from "../memory/types.ts";
import type { Citation, ReplyBlock } from "./reply.ts";

/**
 * Default share of a question's (IDF-weighted) terms that the best passage must contain for
 * memory to count as answering it. Calibrated on the handbook question set (bench/README.md).
 */
export const DEFAULT_MIN_CONFIDENCE = 0.28;

/** How many documents an answer cites at most, and how many passages it quotes. */
const MAX_CITATIONS = 5;
const MAX_QUOTES = 3;
/** A document is cited only when it scores at least this share of the best document. */
const MIN_RELATIVE_SCORE = 0.2;

/** An extractive answer: quoted passages with numbered citations. */
export interface ExtractiveAnswer {
  found: boolean;
  text: string;
  blocks: ReplyBlock[];
  citations: Citation[];
}

/**
 * Decides whether memory answers the question and, if so, quotes the best passages of the best
 * documents with numbered citations (title + uri + heading). No model is involved: every word
 * of the answer comes from the documents.
 */
export function extractiveAnswer(
  result: SearchResult,
  minConfidence = DEFAULT_MIN_CONFIDENCE,
): ExtractiveAnswer {
  const top = result.hits[0];
  if (!top || top.confidence < minConfidence) return { found: false, text: "", blocks: [], citations: [] };
  const cited = result.hits.filter((h) => h.score >= top.score * MIN_RELATIVE_SCORE).slice(0, MAX_CITATIONS);
  const citations: Citation[] = cited.map((h, i) => toCitation(h, i + 1));
  const quotes = citations
    .slice(0, MAX_QUOTES)
    .filter((_c, i) => i === 0 || cited[i]!.confidence >= minConfidence);
  const blocks: ReplyBlock[] = [{ type: "text", text: "Here is what I found in your documents:" }];
  for (const c of quotes) blocks.push({ type: "quote", text: c.snippet, citation: c.n });
  const lines = [
    "Here is what I found in your documents:",
    "",
    ...quotes.map((c) => `> ${c.snippet.replace(/\n/g, "\n> ")} [${c.n}]`),
    "",
    "Sources:",
    ...citations.map(formatCitationLine),
  ];
  return { found: true, text: lines.join("\n"), blocks, citations };
}

/** `[1] Title — uri (Heading > Sub)` */
export function formatCitationLine(c: Citation): string {
  return `[${c.n}] ${c.title} — ${c.uri}${c.heading ? ` (${c.heading})` : ""}`;
}

function toCitation(hit: SearchHit, n: number): Citation {
  return {
    n,
    title: hit.doc.title,
    uri: hit.doc.uri,
    heading: hit.best.headings.length > 0 ? hit.best.headings.join(" > ") : null,
    snippet: hit.best.snippet,
    source: hit.doc.source,
  };
}
