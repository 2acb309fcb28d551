import { isStopWord, stemToken } from "./analyze.ts";
import type { Vocabulary } from "./vocabulary.ts";

/**
 * A word related to a query word (a synonym, a near neighbour), with how close it is: 1 for a
 * synonym of the word's commonest sense, less for weaker relations. Always lower case.
 */
export interface TermExpansion {
  token: string;
  /** 0–1; scales the weight the expansion proves (see {@link ExpansionOptions.weight}). */
  similarity: number;
}

/**
 * Source of related words for query expansion (a thesaurus, word vectors). Implementations load
 * their data lazily, on the first `expand`, from files on this machine — never from the network.
 */
export interface TermExpander {
  /** Short name for logs and benchmarks ("wordnet"). */
  readonly name: string;
  /**
   * Related words of one lower-case query word, best first; [] when it knows none. `vocab` (the
   * tenant's words) lets an expander search only words memory holds.
   */
  expand(token: string, vocab?: Vocabulary): TermExpansion[];
}

/** How expansion terms enter a query. */
export interface ExpansionOptions {
  /**
   * Share of the original concept's IDF an expansion proves when a passage holds it (times its
   * similarity): an expansion always weighs less than the word as typed.
   */
  weight: number;
  /** Expansions kept per query word at most. */
  perTerm: number;
  /** Expansions below this similarity are dropped. */
  minSimilarity: number;
  /** An expansion must occur in at least this many of the tenant's chunks. */
  minDf: number;
  /**
   * Only query words held by at most this many chunks are expanded (0: only words memory has
   * never seen — the vocabulary mismatch case); Infinity expands every word.
   */
  maxQueryDf: number;
}

export const DEFAULT_EXPANSION: ExpansionOptions = {
  weight: 0.5,
  perTerm: 3,
  minSimilarity: 0.5,
  minDf: 1,
  maxQueryDf: Number.POSITIVE_INFINITY,
};

/** One expansion of a query word, ready for search: token, stem and the IDF it proves. */
export interface ExpandedTerm {
  token: string;
  stem: string;
  weight: number;
}

/**
 * Expansions of one query word that the tenant's memory can use: related words (per `expander`)
 * that memory holds in at least `minDf` chunks, are not stop words, differ in stem from every word
 * of the query (`queryStems`) and reach `minSimilarity`; each proves
 * `weight × similarity × min(IDF of the word, IDF of the expansion)`, so it always weighs less than
 * the word as typed. Best `perTerm` by proved weight.
 */
export function expandTerm(
  token: string,
  conceptWeight: number,
  queryStems: Set<string>,
  vocab: Vocabulary,
  expander: TermExpander,
  options: ExpansionOptions = DEFAULT_EXPANSION,
): ExpandedTerm[] {
  if (isStopWord(token) || !/^[a-z]+$/.test(token)) return [];
  if (vocab.df(stemToken(token)) > options.maxQueryDf) return [];
  const out: ExpandedTerm[] = [];
  const seen = new Set<string>();
  for (const e of expander.expand(token, vocab)) {
    if (e.similarity < options.minSimilarity || isStopWord(e.token) || e.token.length < 2) continue;
    if (!/^[a-z]+$/.test(e.token)) continue;
    const stem = stemToken(e.token);
    if (queryStems.has(stem) || seen.has(stem)) continue;
    if (vocab.df(stem) < options.minDf) continue;
    seen.add(stem);
    const weight = options.weight * Math.min(e.similarity, 1) * Math.min(conceptWeight, vocab.idf(stem));
    if (weight > 0) out.push({ token: e.token, stem, weight });
  }
  return out.sort((a, b) => b.weight - a.weight).slice(0, options.perTerm);
}
