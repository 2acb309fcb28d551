import { type Embedder, EmbeddingError } from "./embed.ts";
import {
  type AnalyzedQuery,
  analyzeQuery,
  DEFAULT_RANKING,
  type RankingOptions,
  rankDocuments,
  searchChunks,
  searchFilter,
} from "./search.ts";
import { CHUNK_COLUMNS, type ChunkRow, type ChunkStore, sqlString } from "./store.ts";
import type { SearchOptions, SearchResult } from "./types.ts";
import type { Vocabulary } from "./vocabulary.ts";

/** Tuning of hybrid search. */
export interface HybridOptions {
  /** Chunks fetched from vector search (nearest by cosine distance) before fusion. */
  vectorCandidates: number;
  /** The `k` of reciprocal rank fusion: a chunk scores Σ weight / (k + rank) over both lists. */
  rrfK: number;
  /** Weight of the full-text list in the fusion. */
  ftsWeight: number;
  /** Weight of the vector list in the fusion. */
  vectorWeight: number;
  /**
   * How the lists are fused: `rrf` (reciprocal rank) or `score` (each list's scores normalised to
   * 0..1 — BM25 by the best BM25, cosine similarity min-max over the candidates — then added with
   * the weights).
   */
  fusion: "rrf" | "score";
}

/**
 * Plain reciprocal rank fusion (k = 60, equal weights), the common default of hybrid search
 * engines. Rank fusion needs no calibration of score scales across embedding models.
 */
export const DEFAULT_HYBRID: HybridOptions = {
  vectorCandidates: 50,
  rrfK: 60,
  ftsWeight: 1,
  vectorWeight: 1,
  fusion: "rrf",
};

const COLUMNS = CHUNK_COLUMNS;

/**
 * What a hybrid search embeds the query with and searches: the tenant's active embedding space
 * (its model, reached with the tenant's key) and the vector table of that space.
 */
export interface QueryVectors {
  embedder: Embedder;
  /** The LanceDB table of the space's vectors (memory/vectors.ts). */
  table: string;
}

/** What a hybrid search found before document ranking (for tests and benchmarks). */
export interface HybridCandidates {
  analyzed: AnalyzedQuery;
  fts: ChunkRow[];
  vector: ChunkRow[];
  /** Both lists fused by reciprocal rank; `_score` holds the fused score, best first. */
  fused: ChunkRow[];
}

function rowKey(r: ChunkRow): string {
  return `${r.source}\u0000${r.doc_id}\u0000${r.chunk_index}`;
}

/**
 * Reciprocal rank fusion of ranked chunk lists (Cormack et al., 2009): each chunk scores
 * Σ weight / (k + rank) over the lists it appears in (rank from 1; weights default to 1).
 * Returns copies with `_score` set to the fused score, best first.
 */
export function reciprocalRankFusion(lists: ChunkRow[][], k: number, weights: number[] = []): ChunkRow[] {
  const fused = new Map<string, ChunkRow>();
  for (const [l, list] of lists.entries()) {
    const weight = weights[l] ?? 1;
    list.forEach((row, i) => {
      const key = rowKey(row);
      const add = weight / (k + i + 1);
      const seen = fused.get(key);
      if (seen) seen._score = (seen._score ?? 0) + add;
      else fused.set(key, { ...row, _score: add });
    });
  }
  return [...fused.values()].sort((a, b) => (b._score ?? 0) - (a._score ?? 0));
}

/**
 * Score fusion: BM25 normalised by the best full-text score, cosine similarity (1 − distance)
 * min-max normalised over the vector candidates, each times its weight, summed per chunk.
 * Returns copies with `_score` set to the fused score, best first.
 */
export function scoreFusion(
  fts: ChunkRow[],
  vector: ChunkRow[],
  ftsWeight = 1,
  vectorWeight = 1,
): ChunkRow[] {
  const fused = new Map<string, ChunkRow>();
  const maxBm25 = fts.reduce((m, r) => Math.max(m, r._score ?? 0), 0) || 1;
  for (const r of fts) fused.set(rowKey(r), { ...r, _score: (ftsWeight * (r._score ?? 0)) / maxBm25 });
  const sims = vector.map((r) => 1 - Number(r._distance ?? 1));
  const lo = Math.min(...sims);
  const span = Math.max(...sims) - lo || 1;
  vector.forEach((r, i) => {
    const add = (vectorWeight * (sims[i]! - lo)) / span;
    const seen = fused.get(rowKey(r));
    if (seen) seen._score = (seen._score ?? 0) + add;
    else fused.set(rowKey(r), { ...r, _score: add });
  });
  return [...fused.values()].sort((a, b) => (b._score ?? 0) - (a._score ?? 0));
}

/**
 * Gathers hybrid candidates: full-text candidates (BM25 over the `fts` column) and the nearest
 * chunks by cosine distance to the query's embedding in the space's vector table, both under the
 * same prefilter (tenant, ACL principals, sources, date). Vector hits are then read from the
 * chunks table under that filter again, so a vector whose chunk is gone or no longer visible
 * never surfaces; chunks without a vector are found by full-text search only. Fused by
 * reciprocal rank (or score, see {@link HybridOptions}).
 * @throws EmbeddingError when the query cannot be embedded.
 */
export async function hybridCandidates(
  store: ChunkStore,
  space: QueryVectors,
  query: string,
  opts: SearchOptions,
  vocab?: Vocabulary,
  ranking: RankingOptions = DEFAULT_RANKING,
  hybrid: HybridOptions = DEFAULT_HYBRID,
): Promise<HybridCandidates> {
  const analyzed = analyzeQuery(query, vocab);
  const filter = searchFilter(opts);
  const ftsPromise = (
    analyzed.concepts.length > 0
      ? store.chunks
          .query()
          .fullTextSearch(analyzed.text, { columns: "fts" })
          .where(filter)
          .select(["_score", ...COLUMNS])
          .limit(ranking.candidates)
          .toArray()
      : Promise.resolve([])
  ) as Promise<ChunkRow[]>;
  // Keep a failed FTS from going unhandled while the embedding request runs.
  ftsPromise.catch(() => {});
  const [queryVector] = await space.embedder.embed([query]);
  if (queryVector?.length !== space.embedder.dims) {
    throw new EmbeddingError(
      `the query embedding has ${queryVector?.length ?? 0} dimensions, not ${space.embedder.dims}`,
    );
  }
  const near = await store.vectors.nearest(space.table, queryVector, filter, hybrid.vectorCandidates);
  const rows =
    near.length === 0
      ? []
      : ((await store.chunks
          .query()
          .where(`id IN (${near.map((n) => sqlString(n.id)).join(", ")}) AND ${filter}`)
          .select(["id", ...COLUMNS])
          .limit(near.length)
          .toArray()) as ChunkRow[]);
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  const vector: ChunkRow[] = [];
  for (const n of near) {
    const r = byId.get(n.id);
    if (r) vector.push({ ...r, acl: Array.from(r.acl as Iterable<string>), _distance: n.distance });
  }
  const fts = await ftsPromise;
  return {
    analyzed,
    fts,
    vector,
    fused:
      hybrid.fusion === "score"
        ? scoreFusion(fts, vector, hybrid.ftsWeight, hybrid.vectorWeight)
        : reciprocalRankFusion([fts, vector], hybrid.rrfK, [hybrid.ftsWeight, hybrid.vectorWeight]),
  };
}

/**
 * Hybrid search: full-text and vector candidates of the tenant's chunks (same tenant and ACL
 * prefilter) fused by reciprocal rank, then grouped and ranked by document exactly as full-text
 * search does ({@link rankDocuments}, with the fused score in place of BM25). A document's
 * `confidence` is the larger of its best passage's query coverage and its best chunk's cosine
 * similarity to the query, so a document found only by meaning can answer.
 * When the query cannot be embedded (provider down), this is plain full-text search (`mode: "fts"`).
 */
export async function hybridSearch(
  store: ChunkStore,
  space: QueryVectors,
  query: string,
  opts: SearchOptions,
  vocab?: Vocabulary,
  ranking: RankingOptions = DEFAULT_RANKING,
  hybrid: HybridOptions = DEFAULT_HYBRID,
  onEmbeddingError?: (err: unknown) => void,
): Promise<SearchResult> {
  const started = performance.now();
  // A query of stop words only has no topic: like full-text search, answer nothing.
  if (analyzeQuery(query, undefined).concepts.length === 0) {
    return { hits: [], mode: "hybrid", tookMs: performance.now() - started };
  }
  let found: HybridCandidates;
  try {
    found = await hybridCandidates(store, space, query, opts, vocab, ranking, hybrid);
  } catch (err) {
    if (!(err instanceof EmbeddingError)) throw err;
    onEmbeddingError?.(err);
    return searchChunks(store, query, opts, vocab, ranking);
  }
  const similarity = new Map<string, number>();
  for (const r of found.vector) {
    const sim = 1 - Number(r._distance ?? 1);
    const key = `${r.source}\u0000${r.doc_id}`;
    similarity.set(key, Math.max(similarity.get(key) ?? -1, sim));
  }
  const hits = rankDocuments(found.fused, found.analyzed, ranking, opts.limit ?? 5).map((h) => {
    const sim = similarity.get(`${h.doc.source}\u0000${h.doc.docId}`);
    return sim === undefined ? h : { ...h, confidence: Math.max(h.confidence, Math.min(1, sim)) };
  });
  return { hits, query: found.analyzed, mode: "hybrid", tookMs: performance.now() - started };
}
