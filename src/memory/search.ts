import { BooleanQuery, type FullTextQuery, MatchQuery, Occur } from "@lancedb/lancedb";
import { type QueryTerm, queryTerms, stemsAmong, stemToken } from "./analyze.ts";
import { DEFAULT_EXPANSION, type ExpansionOptions, expandTerm, type TermExpander } from "./expand.ts";
import {
  aclFilter,
  type ChunkRow,
  type ChunkStore,
  eq,
  CHUNK_COLUMNS,
  HEADING_SEPARATOR,
  readRows,
  sqlString,
  uriWords,
} from "./store.ts";
import type { DocumentMeta, SearchHit, SearchOptions, SearchResult } from "./types.ts";
import type { Vocabulary } from "./vocabulary.ts";

/** Tuning of ranking and of the "memory has no answer" decision. */
export interface RankingOptions {
  /** Chunks fetched from full-text search before reranking and grouping by document. */
  candidates: number;
  /** Weight of a document's 2nd and 3rd best chunks (BM25, normalised) in its score. */
  secondaryWeight: number;
  /** Weight of the share of query concepts the best passage covers. */
  passageCoverageWeight: number;
  /** Weight of the share of query concepts the document's passages cover together. */
  documentCoverageWeight: number;
}

export const DEFAULT_RANKING: RankingOptions = {
  candidates: 200,
  secondaryWeight: 0.6,
  passageCoverageWeight: 0.5,
  documentCoverageWeight: 0.25,
};

/**
 * One concept of a query: the word as typed plus, when memory does not know it (or barely),
 * the spelling memory does use ("acknowlege" → "acknowledge") or its parts ("biweekly" →
 * "bi weekly"). `weight` is the concept's IDF.
 */
export interface QueryConcept {
  token: string;
  /**
   * The word as typed and its spelling correction, each with the IDF it proves when a passage
   * holds it: a correction of a word memory does know ("leasing" → "leading") proves no more than
   * the corrected word's own IDF, so a frequent look-alike is never taken for a rare word.
   */
  variants: (QueryTerm & { weight?: number; expansion?: boolean })[];
  /**
   * Parts of a run-together word ("biweekly" → "bi", "weekly"): the concept is present when all
   * parts are, not when one of them is.
   */
  parts?: QueryTerm[];
  weight: number;
  /** Chunks holding the word as typed (0: memory has never seen it). */
  df?: number;
}

/** A query after analysis. */
export interface AnalyzedQuery {
  concepts: QueryConcept[];
  /** IDF of a term seen in no chunk: the unit of `SearchHit.evidence`. */
  maxWeight: number;
  /** Text sent to full-text search. */
  text: string;
  /**
   * Expansion words (related words from a {@link TermExpander}), sent to full-text search as a
   * separate clause boosted below the words as typed; "" without expansion.
   */
  expansionText: string;
}

/** Query expansion for {@link analyzeQuery}: where related words come from and how they weigh. */
export interface QueryExpansion {
  expander: TermExpander;
  options?: ExpansionOptions;
}

/** A word seen in at most this many chunks may be a misspelling of a far more frequent word. */
const RARE_DF = 2;
/** …when the other word is at least this many times as frequent. */
const CORRECTION_RATIO = 20;
/**
 * Words shorter than this are not spell-corrected: one edit away from a 4-letter word lie too
 * many real words ("bike" → "bake", "wifi" → "wiki").
 */
const MIN_CORRECTED_LENGTH = 5;

/**
 * Analyses a query against a tenant's vocabulary: drops stop words; for a word memory has never
 * (or almost never) seen, adds the far more frequent spelling memory uses ("acknowlege" →
 * "acknowledge", "referal" → "referral") or, failing that, its parts when it is two known words
 * run together ("biweekly" → "bi weekly"); weights each concept by IDF.
 */
export function analyzeQuery(
  query: string,
  vocab: Vocabulary | undefined,
  expansion?: QueryExpansion,
): AnalyzedQuery {
  const concepts: QueryConcept[] = [];
  const terms = queryTerms(query);
  for (const term of terms) {
    const variants: QueryConcept["variants"] = [{ ...term }];
    let parts: QueryTerm[] | undefined;
    let weight = vocab ? vocab.idf(term.stem) : 1;
    const df = vocab ? vocab.df(term.stem) : undefined;
    if (vocab) {
      const seen = vocab.wordFrequency(term.token);
      if (seen <= RARE_DF) {
        const fixed =
          term.token.length >= MIN_CORRECTED_LENGTH
            ? vocab.correct(term.token, Math.max(1, seen * CORRECTION_RATIO))
            : undefined;
        const split = fixed ? undefined : vocab.split(term.token);
        if (fixed) {
          const stem = stemToken(fixed);
          if (df === 0) weight = vocab.idf(stem);
          if (!variants.some((x) => x.stem === stem))
            variants.push({ token: fixed, stem, weight: Math.min(weight, vocab.idf(stem)) });
        } else if (split) {
          parts = split.map((w) => ({ token: w, stem: stemToken(w) }));
          if (df === 0) weight = Math.max(...parts.map((p) => vocab.idf(p.stem)));
        }
      }
    }
    variants[0]!.weight = weight;
    concepts.push({ token: term.token, variants, parts, weight, df });
  }
  const text = concepts
    .flatMap((c) => [...c.variants.map((v) => v.token), ...(c.parts ?? []).map((p) => p.token)])
    .join(" ");
  const expansions: string[] = [];
  if (expansion && vocab) {
    const queryStems = new Set(concepts.flatMap((c) => c.variants.map((v) => v.stem)));
    for (const c of concepts) {
      for (const v of c.variants.slice()) {
        for (const e of expandTerm(
          v.token,
          c.weight,
          queryStems,
          vocab,
          expansion.expander,
          expansion.options,
        )) {
          if (c.variants.some((x) => x.stem === e.stem)) continue;
          c.variants.push({ token: e.token, stem: e.stem, weight: e.weight, expansion: true });
          expansions.push(e.token);
        }
      }
    }
  }
  return { concepts, maxWeight: vocab ? vocab.idf("\u0000") : 1, text, expansionText: expansions.join(" ") };
}

/**
 * The full-text query of an analysed query: its words as typed (and corrected), plus its
 * expansion words in a clause boosted by `boost` (< 1: related words rank below the words asked).
 */
export function fullTextQuery(
  analyzed: AnalyzedQuery,
  boost = DEFAULT_EXPANSION.weight,
): string | FullTextQuery {
  if (analyzed.expansionText === "") return analyzed.text;
  return new BooleanQuery([
    [Occur.Should, new MatchQuery(analyzed.text, "fts")],
    [Occur.Should, new MatchQuery(analyzed.expansionText, "fts", { boost })],
  ]);
}

/**
 * The IDF weight of `concept` that the stem sets prove: its own weight when the word as typed (or
 * all parts of a run-together word) is present, the correction's weight when only the
 * correction is, 0 when neither.
 */
export function conceptEvidence(concept: QueryConcept, stemSets: Set<string>[]): number {
  let best = 0;
  for (const v of concept.variants)
    if (inAny(stemSets, v.stem)) best = Math.max(best, v.weight ?? concept.weight);
  if (concept.parts) {
    let all = true;
    for (const p of concept.parts) if (!inAny(stemSets, p.stem)) all = false;
    if (all) best = concept.weight;
  }
  return Math.min(best, concept.weight);
}

function inAny(stemSets: Set<string>[], stem: string): boolean {
  for (const s of stemSets) if (s.has(stem)) return true;
  return false;
}

/**
 * Every stem a query's concepts can be proved by (words as typed, corrections, parts): the only
 * stems ranking looks for in a passage.
 */
export function conceptStems(analyzed: AnalyzedQuery): Set<string> {
  const out = new Set<string>();
  for (const c of analyzed.concepts) {
    for (const v of c.variants) out.add(v.stem);
    for (const p of c.parts ?? []) out.add(p.stem);
  }
  return out;
}

/** Builds the LanceDB filter for a search: tenant, ACL principals, optional sources and date. */
export function searchFilter(opts: SearchOptions): string {
  const parts = [eq("tenant_id", opts.tenantId), aclFilter(opts.principals)];
  if (opts.sources && opts.sources.length > 0)
    parts.push(`source IN (${opts.sources.map(sqlString).join(", ")})`);
  if (opts.since !== undefined) {
    if (!Number.isFinite(opts.since))
      throw new Error("search option `since` must be a time in ms since the epoch");
    parts.push(`modified_at >= ${opts.since}`);
  }
  return parts.join(" AND ");
}

/**
 * Columns full-text search reads back. `tenant_id` is left out: the filter fixes it, and every
 * column read costs a random-access read per candidate (about 1 ms per column for 200 candidates).
 */
const SELECT = ["_score", ...CHUNK_COLUMNS.filter((c) => c !== "tenant_id")];

/**
 * Full-text search over a tenant's chunks, filtered by tenant and ACL, grouped by document.
 * Each document's score adds a share of its next-best chunks to its best; `confidence` is the
 * IDF-weighted share of the query's terms that the document's best passage (with its title and
 * headings) contains — the basis of the "no good match" decision.
 */
export async function searchChunks(
  store: ChunkStore,
  query: string,
  opts: SearchOptions,
  vocab?: Vocabulary,
  ranking: RankingOptions = DEFAULT_RANKING,
  expansion?: QueryExpansion,
): Promise<SearchResult> {
  const started = performance.now();
  const analyzed = analyzeQuery(query, vocab, expansion);
  if (analyzed.concepts.length === 0)
    return { hits: [], query: analyzed, mode: "fts", tookMs: performance.now() - started };
  const rows = await readRows<ChunkRow>(
    store.chunks
      .query()
      .fullTextSearch(fullTextQuery(analyzed, expansion?.options?.weight), { columns: "fts" })
      .where(searchFilter(opts))
      .select(SELECT)
      .limit(ranking.candidates),
  );
  for (const r of rows) r.tenant_id = opts.tenantId;
  const hits = rankDocuments(rows, analyzed, ranking, opts.limit ?? 5);
  return { hits, query: analyzed, mode: "fts", tookMs: performance.now() - started };
}

/**
 * Reranks full-text candidates and groups them by document. A chunk's BM25 score is normalised by
 * the best one; a document scores its best chunk, a share of its next two, and how much of the
 * query (IDF-weighted concepts) its best passage and all its passages cover. Covering most of a
 * question in one place beats repeating one rare word. Returns the best `limit` documents, with
 * snippets.
 */
export function rankDocuments(
  rows: ChunkRow[],
  analyzed: AnalyzedQuery,
  ranking: RankingOptions,
  limit = Number.POSITIVE_INFINITY,
): SearchHit[] {
  const maxScore = rows.reduce((m, r) => Math.max(m, r._score ?? 0), 0) || 1;
  const wanted = conceptStems(analyzed);
  const totalWeight = analyzed.concepts.reduce((s, c) => s + c.weight, 0) || 1;
  const byDoc = new Map<
    string,
    { row: ChunkRow; norm: number; stems: Set<string>; coverage: number; covered: number }[]
  >();
  for (const row of rows) {
    // Only the query's stems matter: the passage's own stem set is never built.
    const stems = stemsAmong(`${row.title} ${uriWords(row.uri)} ${row.headings} ${row.text}`, wanted);
    const covered = coveredWeight(analyzed, [stems]);
    const scored = {
      row,
      norm: (row._score ?? 0) / maxScore,
      stems,
      coverage: covered / totalWeight,
      covered,
    };
    const key = `${row.source}\u0000${row.doc_id}`;
    const list = byDoc.get(key);
    if (list) list.push(scored);
    else byDoc.set(key, [scored]);
  }
  const hits: SearchHit[] = [];
  for (const chunks of byDoc.values()) {
    chunks.sort((a, b) => b.norm + b.coverage - (a.norm + a.coverage));
    const best = chunks[0]!;
    const docCoverage =
      coveredWeight(
        analyzed,
        chunks.map((c) => c.stems),
      ) / totalWeight;
    const secondary = chunks.slice(1, 3).reduce((s, c) => s + c.norm, 0);
    const score =
      best.norm +
      ranking.secondaryWeight * secondary +
      ranking.passageCoverageWeight * best.coverage +
      ranking.documentCoverageWeight * docCoverage;
    const passages = chunks.map((c) => ({
      chunkIndex: c.row.chunk_index,
      headings: splitHeadings(c.row.headings),
      text: c.row.text,
      snippet: "",
      score: c.norm + c.coverage,
    }));
    hits.push({
      doc: toMeta(best.row),
      score,
      confidence: best.coverage,
      evidence: best.covered / (analyzed.maxWeight || 1),
      best: passages[0]!,
      passages,
    });
  }
  hits.sort((a, b) => b.score - a.score);
  // Snippets only for the documents returned: they are the costly part of ranking.
  const top = hits.slice(0, limit);
  for (const h of top) {
    for (const p of h.passages) p.snippet = snippet(p.text, analyzed, 300, wanted);
  }
  return top;
}

/** Passages read per document at most by {@link readDocuments} (a long page is cut there). */
const MAX_DOCUMENT_PASSAGES = 400;

/**
 * Reads every passage of the given hits' documents (one LanceDB query, filtered by tenant, ACL and
 * document) into `hit.document`, in reading order. Hits whose document has no readable passage
 * left (deleted meanwhile) keep `document` unset.
 */
export async function readDocuments(
  store: ChunkStore,
  hits: SearchHit[],
  opts: SearchOptions,
): Promise<void> {
  if (hits.length === 0) return;
  const docs = hits
    .map((h) => `(${eq("source", h.doc.source)} AND ${eq("doc_id", h.doc.docId)})`)
    .join(" OR ");
  const rows = await readRows<Pick<ChunkRow, "source" | "doc_id" | "chunk_index" | "headings" | "text">>(
    store.chunks
      .query()
      .where(`${eq("tenant_id", opts.tenantId)} AND ${aclFilter(opts.principals)} AND (${docs})`)
      .select(["source", "doc_id", "chunk_index", "headings", "text"])
      .limit(MAX_DOCUMENT_PASSAGES * hits.length),
  );
  for (const h of hits) {
    const own = rows
      .filter((r) => r.source === h.doc.source && r.doc_id === h.doc.docId)
      .sort((a, b) => a.chunk_index - b.chunk_index)
      .slice(0, MAX_DOCUMENT_PASSAGES)
      .map((r) => ({ chunkIndex: r.chunk_index, headings: splitHeadings(r.headings), text: r.text }));
    if (own.length > 0) h.document = own;
  }
}

/** Summed IDF of the query's concepts found in the union of the given stem sets. */
export function coveredWeight(analyzed: AnalyzedQuery, stemSets: Set<string>[]): number {
  let covered = 0;
  for (const c of analyzed.concepts) covered += conceptEvidence(c, stemSets);
  return covered;
}

function splitHeadings(h: string): string[] {
  return h ? h.split(HEADING_SEPARATOR) : [];
}

function toMeta(row: ChunkRow): DocumentMeta {
  return {
    tenantId: row.tenant_id,
    source: row.source,
    docId: row.doc_id,
    title: row.title,
    uri: row.uri,
    mime: row.mime,
    modifiedAt: Number(row.modified_at),
    acl: Array.isArray(row.acl) ? row.acl : Array.from(row.acl as Iterable<string>),
  };
}

/**
 * The sentence(s) of a chunk that best match the query, up to ~300 characters, cut at word
 * boundaries.
 */
export function snippet(
  text: string,
  analyzed: AnalyzedQuery,
  maxLength = 300,
  wanted: ReadonlySet<string> = conceptStems(analyzed),
): string {
  const sentences = text
    .split(/(?<=[.!?])\s+|\n+/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (sentences.length === 0) return "";
  let bestIndex = 0;
  let bestScore = -1;
  sentences.forEach((s, i) => {
    const stems = stemsAmong(s, wanted);
    const score = coveredWeight(analyzed, [stems]);
    if (score > bestScore) {
      bestScore = score;
      bestIndex = i;
    }
  });
  let out = sentences[bestIndex]!;
  for (
    let i = bestIndex + 1;
    i < sentences.length && out.length + sentences[i]!.length + 1 <= maxLength;
    i++
  ) {
    out += ` ${sentences[i]}`;
  }
  if (out.length > maxLength) {
    const cut = out.lastIndexOf(" ", maxLength - 1);
    out = `${out.slice(0, cut > maxLength / 2 ? cut : maxLength - 1)}…`;
  }
  return out;
}
