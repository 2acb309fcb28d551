import type { AnalyzedQuery } from "./search.ts";

/**
 * A principal that may read a document: `anyone`, `user:<email>`, `group:<id>`, `domain:<domain>`.
 * Matching is exact on the lower-cased string.
 */
export type Principal = string;

/** The principal every document visible to the whole tenant carries. */
export const ANYONE: Principal = "anyone";

/** Text pulled out of one file, with its structure (sections under headings). */
export interface ExtractedDocument {
  /** Title from the document itself (first H1, metadata) or undefined to fall back to the file name. */
  title?: string;
  /** Sections in reading order. `headings` is the path of headings above the text (outermost first). */
  sections: ExtractedSection[];
}

export interface ExtractedSection {
  headings: string[];
  text: string;
}

/** One chunk before it is stored: the heading path and text of one passage of a document. */
export interface ChunkDraft {
  chunkIndex: number;
  /** Heading path, outermost first. */
  headings: string[];
  text: string;
}

/** Identity and metadata of one document in memory. */
export interface DocumentMeta {
  tenantId: string;
  /** Source id, e.g. `folder:handbook`, `gdrive:…`, `notes`. */
  source: string;
  /** Stable id of the document within its source (a relative path, a Drive file id). */
  docId: string;
  title: string;
  /** Link or path shown in citations. */
  uri: string;
  mime: string;
  /** Last modification time, ms since epoch. */
  modifiedAt: number;
  acl: Principal[];
}

/** Search request. */
export interface SearchOptions {
  tenantId: string;
  /** The asker's principals; a chunk matches when its acl shares at least one. */
  principals: Principal[];
  /** Maximum number of documents returned (default 5). */
  limit?: number;
  /** Restrict to these source ids. */
  sources?: string[];
  /** Only documents modified at or after this time (ms since epoch). */
  since?: number;
  /** Read every passage of this many of the best documents into `SearchHit.document` (default 0). */
  readDocuments?: number;
}

/** One document found by a search, with its best passage. */
export interface SearchHit {
  doc: DocumentMeta;
  /** Document score after aggregation; comparable only within one search. */
  score: number;
  /** IDF-weighted share (0..1) of the query's concepts that the best passage covers. */
  confidence: number;
  /**
   * How much specific information the best passage shares with the query: the IDF of the
   * concepts it covers, summed, in units of the rarest possible term's IDF (so ~1 means "one
   * very rare term in common"). Together with `confidence` it decides whether memory answers.
   */
  evidence: number;
  /** The best-matching chunk of the document. */
  best: { chunkIndex: number; headings: string[]; text: string; snippet: string };
  /** Further good passages of the same document, best first. */
  passages: { chunkIndex: number; headings: string[]; text: string; snippet: string; score: number }[];
  /**
   * Every passage of the document in reading order — set for the first
   * `SearchOptions.readDocuments` documents only, so an answer can quote a sentence that full-text
   * search did not return among the best passages.
   */
  document?: { chunkIndex: number; headings: string[]; text: string }[];
}

export interface SearchResult {
  hits: SearchHit[];
  /**
   * The query as memory understood it: its concepts (stop words removed, spelling corrected),
   * each weighted by IDF. Answers use it to pick the sentences that answer.
   */
  query?: AnalyzedQuery;
  /** "fts" or "hybrid". */
  mode: "fts" | "hybrid";
  /** How long the search took, ms. */
  tookMs: number;
}
