import type { SearchHit, SearchResult } from "../memory/types.ts";
import type { Citation, ReplyBlock } from "./reply.ts";

/**
 * Memory answers a question when its best passage covers at least this share of the question's
 * IDF-weighted concepts (`SearchHit.confidence`)…
 */
export const DEFAULT_MIN_CONFIDENCE = 0.5;
/**
 * …or, for long, chatty questions whose incidental words no passage shares, when the passage
 * still shares at least this much specific information (`SearchHit.evidence`, in units of one
 * very rare term). Both were calibrated on the handbook question set (bench/README.md).
 */
export const DEFAULT_MIN_EVIDENCE = 1.2;

/** Whether a search hit is good enough to answer from. */
export function answers(
  hit: SearchHit | undefined,
  minConfidence = DEFAULT_MIN_CONFIDENCE,
  minEvidence = DEFAULT_MIN_EVIDENCE,
): boolean {
  return hit !== undefined && (hit.confidence >= minConfidence || hit.evidence >= minEvidence);
}

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
  if (!top || !answers(top, minConfidence)) return { found: false, text: "", blocks: [], citations: [] };
  const cited = result.hits.filter((h) => h.score >= top.score * MIN_RELATIVE_SCORE).slice(0, MAX_CITATIONS);
  const citations: Citation[] = cited.map((h, i) => toCitation(h, i + 1));
  const quotes = citations
    .slice(0, MAX_QUOTES)
    .filter((_c, i) => i === 0 || answers(cited[i], minConfidence));
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
    docId: hit.doc.docId,
  };
}
