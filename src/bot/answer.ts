import { stemSet } from "../memory/analyze.ts";
import { type AnalyzedQuery, conceptEvidence } from "../memory/search.ts";
import type { SearchHit, SearchResult } from "../memory/types.ts";
import { type Citation, citedTitle, type ReplyBlock } from "./reply.ts";
import { nearDuplicate, type ScoredSentence, scoreSentences } from "./sentences.ts";

/**
 * Memory answers a question when the document's best passage covers at least this share of the
 * question's IDF-weighted concepts (`SearchHit.confidence`)…
 */
export const DEFAULT_MIN_CONFIDENCE = 0.5;
/**
 * …or when it shares at least this much specific information (`SearchHit.evidence`, in units of
 * one very rare term) — long questions whose incidental words no passage holds.
 */
export const DEFAULT_MIN_EVIDENCE = 1.2;
/**
 * Evidence (as above) from which an answer is given even when the answering page lacks a rare
 * word of the question: a long question shares much with the page beside its incidental words
 * ("slacker", "yesterday").
 */
export const DEFAULT_STRONG_EVIDENCE = 1.6;
/**
 * A question concept this rare (its IDF as a share of the rarest possible) that the answering
 * page — its title, path, headings and every passage read — does not hold means memory does not
 * know the question's topic ("bike" in "bike-to-work scheme", "ESPP")…
 */
export const DEFAULT_MAX_MISSING = 0.75;
/**
 * …and so does a missing concept at least this rare when the missing concepts weigh at least
 * {@link DEFAULT_MAX_MISSING_SHARE} of the question's IDF ("guest" and "wifi" of "wifi password
 * for the guest network"). Calibrated on the tune half of bench/questions (bench/README.md).
 */
export const DEFAULT_MISSING_RARE = 0.55;
/** See {@link DEFAULT_MISSING_RARE}. */
export const DEFAULT_MAX_MISSING_SHARE = 0.35;
/**
 * The missing-topic rule applies to questions of at most this many concepts: in a short question
 * every word is the topic; a long, chatty one carries incidental words ("relocating from Canada to
 * Portugal… how far ahead do I tell the people team") and is judged by coverage and evidence only.
 * The longest unanswerable question of the tune half has 6.
 */
export const DEFAULT_TOPICAL_CONCEPTS = 6;

/** Whether a search hit is good enough to answer from (document level). */
export function answers(
  hit: SearchHit | undefined,
  minConfidence = DEFAULT_MIN_CONFIDENCE,
  minEvidence = DEFAULT_MIN_EVIDENCE,
): boolean {
  return hit !== undefined && (hit.confidence >= minConfidence || hit.evidence >= minEvidence);
}

/**
 * The question concepts a page lacks (title, path, headings and the passages read: the whole
 * document when search read it, else the passages it returned): the rarest one as a share of the
 * rarest possible IDF (`rarest`), and their summed IDF as a share of the question's (`share`).
 * Both 0 when the page holds every concept.
 */
export function missingConcepts(query: AnalyzedQuery, hit: SearchHit): { rarest: number; share: number } {
  const passages = hit.document ?? hit.passages;
  const stems = [
    stemSet(`${hit.doc.title} ${hit.doc.uri}`),
    ...passages.map((p) => stemSet(`${p.headings.join(" ")} ${p.text}`)),
  ];
  const total = query.concepts.reduce((s, c) => s + c.weight, 0) || 1;
  let rarest = 0;
  let missing = 0;
  for (const c of query.concepts) {
    if (conceptEvidence(c, stems) > 0) continue;
    // A word memory has never seen, read as a correction ("frend" → "friend"): its absence says
    // the guess was wrong, not that the topic is unknown.
    if (c.df === 0 && c.variants.length > 1) continue;
    rarest = Math.max(rarest, c.weight / (query.maxWeight || 1));
    missing += c.weight;
  }
  return { rarest, share: missing / total };
}

/**
 * Whether the page lacks the question's topic: a concept rarer than `maxMissing`, or one rarer
 * than {@link DEFAULT_MISSING_RARE} when the missing concepts weigh at least
 * {@link DEFAULT_MAX_MISSING_SHARE} of the question.
 */
export function lacksTopic(query: AnalyzedQuery, hit: SearchHit, thresholds: AnswerThresholds = {}): boolean {
  const { rarest, share } = missingConcepts(query, hit);
  return (
    rarest >= (thresholds.maxMissing ?? DEFAULT_MAX_MISSING) ||
    (rarest >= (thresholds.missingRare ?? DEFAULT_MISSING_RARE) &&
      share >= (thresholds.maxMissingShare ?? DEFAULT_MAX_MISSING_SHARE))
  );
}

/** How many documents an answer cites at most, and how many sentences lead it. */
const MAX_CITATIONS = 5;
const MAX_LEAD = 2;
/** Supporting quotes (from other documents) after the lead. */
const MAX_SUPPORT = 2;
/** A document is cited only when it scores at least this share of the best document. */
const MIN_RELATIVE_SCORE = 0.2;
/** A second lead sentence must score at least this share of the first. */
const SECOND_LEAD = 0.85;

/** An extractive answer: the sentences that answer, then supporting quotes, with numbered citations. */
export interface ExtractiveAnswer {
  found: boolean;
  text: string;
  blocks: ReplyBlock[];
  citations: Citation[];
}

/** Thresholds of the "memory has no answer" decision. */
export interface AnswerThresholds {
  minConfidence?: number;
  minEvidence?: number;
  maxMissing?: number;
  missingRare?: number;
  maxMissingShare?: number;
  strongEvidence?: number;
  topicalConcepts?: number;
}

const NOT_FOUND: ExtractiveAnswer = { found: false, text: "", blocks: [], citations: [] };

/** One quote of the answer and the documents it is cited from. */
interface Quote {
  sentence: ScoredSentence;
  /** Other documents holding the same (or nearly the same) text. */
  alsoIn: number[];
}

/**
 * Decides whether memory answers the question and, if so, builds the answer from the documents'
 * own words: first the one or two sentences that answer it (scored by {@link scoreSentences}:
 * the question's concepts and the kind of fact it asks for), each quoted exactly with its
 * citation; then the best sentence of up to two other documents. A passage found in several
 * documents is quoted once, and the other documents are named "also in". Citations are numbered
 * in search order.
 *
 * Sources are numbered in search order ([1] is the best-ranked document), whichever document
 * holds the lead sentence.
 *
 * No answer when the best document covers too little of the question (`answers`), or when a short
 * question ({@link DEFAULT_TOPICAL_CONCEPTS}) shares too little specific information with it
 * ({@link DEFAULT_STRONG_EVIDENCE}) and both the page holding the lead sentence and the best page
 * lack its topic ({@link lacksTopic}).
 */
export function extractiveAnswer(
  result: SearchResult,
  minConfidence = DEFAULT_MIN_CONFIDENCE,
  question = "",
  thresholds: AnswerThresholds = {},
): ExtractiveAnswer {
  const top = result.hits[0];
  const minEvidence = thresholds.minEvidence ?? DEFAULT_MIN_EVIDENCE;
  if (!top || !answers(top, thresholds.minConfidence ?? minConfidence, minEvidence)) return NOT_FOUND;
  const hits = result.hits.filter((h) => h.score >= top.score * MIN_RELATIVE_SCORE).slice(0, MAX_CITATIONS);
  const query = result.query;
  const ranked = query ? scoreSentences(question, hits, query) : [];
  const lead = ranked[0];
  if (
    query &&
    lead &&
    query.concepts.length <= (thresholds.topicalConcepts ?? DEFAULT_TOPICAL_CONCEPTS) &&
    top.evidence < (thresholds.strongEvidence ?? DEFAULT_STRONG_EVIDENCE) &&
    lacksTopic(query, hits[lead.hit]!, thresholds) &&
    lacksTopic(query, top, thresholds)
  ) {
    return NOT_FOUND;
  }
  const { quotes, leadCount } = lead
    ? pickQuotes(ranked, hits)
    : { quotes: fallbackQuotes(hits), leadCount: 1 };
  return render(quotes, leadCount, hits);
}

/** Without an analysed query (older callers): the best passage of each document, as before. */
function fallbackQuotes(hits: SearchHit[]): Quote[] {
  return hits.slice(0, 1 + MAX_SUPPORT).map((h, i) => ({
    sentence: {
      hit: i,
      chunkIndex: h.best.chunkIndex,
      headings: h.best.headings,
      text: h.best.snippet || h.best.text,
      score: h.score,
      coverage: h.confidence,
      ownCoverage: h.confidence,
      kindMatch: false,
    },
    alsoIn: [],
  }));
}

/**
 * The lead sentence(s) and one supporting sentence per other document, skipping text already
 * quoted: a near-duplicate from another document is recorded as "also in" that quote.
 */
function pickQuotes(ranked: ScoredSentence[], hits: SearchHit[]): { quotes: Quote[]; leadCount: number } {
  const quotes: Quote[] = [];
  const quotedDocs = new Set<number>();
  const duplicateOf = (s: ScoredSentence): Quote | undefined =>
    quotes.find((q) => nearDuplicate(q.sentence.text, s.text));
  const best = ranked[0]!;
  for (const s of ranked) {
    if (quotes.length >= MAX_LEAD || s.score < best.score * SECOND_LEAD) break;
    const dup = duplicateOf(s);
    if (dup) {
      if (s.hit !== dup.sentence.hit && !dup.alsoIn.includes(s.hit)) dup.alsoIn.push(s.hit);
      continue;
    }
    if (quotes.length > 0 && !s.kindMatch && best.kindMatch) continue;
    quotes.push({ sentence: s, alsoIn: [] });
    quotedDocs.add(s.hit);
  }
  const leadCount = quotes.length;
  for (const s of ranked) {
    if (quotes.length >= leadCount + MAX_SUPPORT) break;
    const dup = duplicateOf(s);
    if (dup) {
      if (s.hit !== dup.sentence.hit && !dup.alsoIn.includes(s.hit) && !quotedDocs.has(s.hit))
        dup.alsoIn.push(s.hit);
      continue;
    }
    if (quotedDocs.has(s.hit) || quotes.some((q) => q.alsoIn.includes(s.hit)) || s.ownCoverage === 0)
      continue;
    quotes.push({ sentence: s, alsoIn: [] });
    quotedDocs.add(s.hit);
  }
  // Documents whose best passages are the same text as a quote are "also in" it, not new sources.
  hits.forEach((h, i) => {
    if (quotedDocs.has(i) || quotes.some((q) => q.alsoIn.includes(i))) return;
    const same = quotes.find((q) => h.passages.some((p) => nearDuplicate(p.text, q.sentence.text)));
    if (same) same.alsoIn.push(i);
  });
  return { quotes, leadCount };
}

function render(quotes: Quote[], leadCount: number, hits: SearchHit[]): ExtractiveAnswer {
  const numberOf = new Map<number, number>();
  const citations: Citation[] = [];
  const cite = (hit: number, sentence?: ScoredSentence, snippet?: string): number => {
    let n = numberOf.get(hit);
    if (n === undefined) {
      n = citations.length + 1;
      numberOf.set(hit, n);
      citations.push(toCitation(hits[hit]!, n, sentence, snippet));
    }
    return n;
  };
  // Sources keep the search order (the best-ranked cited document is [1]), whichever document
  // holds the lead sentence; each cites the sentence quoted from it, or the text it repeats. Only
  // documents the answer quotes (or names "also in") are sources, as in a generated answer: a
  // found document nothing was quoted from is not listed.
  const quoteOf = (i: number) => quotes.find((q) => q.sentence.hit === i);
  const repeatOf = (i: number) => quotes.find((q) => q.alsoIn.includes(i));
  hits.forEach((_h, i) => {
    const quote = quoteOf(i);
    const repeat = repeatOf(i);
    if ((quote || repeat) && citations.length < MAX_CITATIONS)
      cite(i, quote?.sentence, repeat?.sentence.text);
  });
  const blocks: ReplyBlock[] = [];
  const lines: string[] = [];
  quotes.forEach((q, i) => {
    if (i === 0) {
      blocks.push({ type: "text", text: "From your documents:" });
      lines.push("From your documents:");
    } else if (i === leadCount) {
      blocks.push({ type: "text", text: "Also relevant:" });
      lines.push("", "Also relevant:");
    }
    const n = numberOf.get(q.sentence.hit)!;
    blocks.push({ type: "quote", text: q.sentence.text, citation: n });
    lines.push(`> ${q.sentence.text.replace(/\n/g, "\n> ")} [${n}]`);
    if (q.alsoIn.length > 0) {
      const also = `The same text is also in ${q.alsoIn
        .map((d) => `[${numberOf.get(d)}] ${hits[d]!.doc.title}`)
        .join(", ")}.`;
      blocks.push({ type: "text", text: also });
      lines.push(also);
    }
  });
  lines.push("", "Sources:", ...citations.map(formatCitationLine));
  return { found: true, text: lines.join("\n"), blocks, citations };
}

/** `[1] Title — uri (Heading > Sub)` */
export function formatCitationLine(c: Citation): string {
  return `[${c.n}] ${c.title} — ${c.uri}${c.heading ? ` (${c.heading})` : ""}`;
}

function toCitation(hit: SearchHit, n: number, sentence?: ScoredSentence, snippet?: string): Citation {
  const headings = sentence?.headings ?? hit.best.headings;
  return {
    n,
    title: citedTitle(hit.doc.title, hit.doc.source),
    uri: hit.doc.uri,
    heading: headings.length > 0 ? headings.join(" > ") : null,
    snippet: sentence?.text ?? snippet ?? hit.best.snippet,
    source: hit.doc.source,
    docId: hit.doc.docId,
  };
}
