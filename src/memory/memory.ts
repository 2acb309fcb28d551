import { randomUUID } from "node:crypto";
import type { Db } from "../db/index.ts";
import { LatencyWindow } from "../observability/latency.ts";
import { advisoryLock } from "../db/locks.ts";
import type { Logger } from "../observability/logger.ts";
import { searchSeconds, syncDocumentsTotal, syncErrorsTotal, syncSeconds } from "../observability/metrics.ts";
import { chunkDocument } from "./chunk.ts";
import { type FeedSyncOptions, type FeedSyncSummary, syncFeed } from "./feed-sync.ts";
import { DEFAULT_HYBRID, type HybridOptions, hybridSearch, type QueryVectors } from "./hybrid.ts";
import { type QueryExpansion, readDocuments, searchChunks } from "./search.ts";
import { LocalFolderSource } from "./sources/local-folder.ts";
import type { Source } from "./sources/types.ts";
import { CHUNKS_TABLE, ChunkStore, eq } from "./store.ts";
import { type SyncOptions, type SyncSummary, syncSource } from "./sync.ts";
import type { DocumentMeta, Principal, SearchOptions, SearchResult } from "./types.ts";
import { Vocabulary } from "./vocabulary.ts";

/** How often a search checks whether another replica changed the chunks table, ms. */
const VOCABULARY_CHECK_MS = 30_000;

/**
 * Chunks of one tenant read to build its term statistics at most: a larger tenant's are estimated
 * from an even sample (one chunk in k, by row id) scaled up, so building them stays bounded
 * (about a second) whatever the size of memory.
 */
export const VOCABULARY_MAX_CHUNKS = 20_000;

/** The source id of notes stored with "remember that …". */
export const NOTES_SOURCE = "notes";

/** What `status` shows for one source. */
export interface SourceStatus {
  sourceId: string;
  kind: string;
  label: string;
  documents: number;
  chunks: number;
  lastSyncAt: Date | null;
  lastStatus: string | null;
  lastError: string | null;
}

/**
 * Where a search gets a tenant's query embedder and vector table: the tenant's active embedding
 * space (ai/embeddings.ts); undefined when the tenant has none (full-text search only).
 */
export type QueryVectorSource = (tenantId: string) => Promise<QueryVectors | undefined>;

/**
 * Atom's memory: documents from every source of every tenant, chunked into LanceDB, with their
 * bookkeeping (documents, sources) in Postgres. All reads are filtered by tenant and ACL.
 * Vectors live per embedding space beside the chunks (memory/vectors.ts) and are written in the
 * background; a tenant with an active space gets hybrid search (full-text + vector).
 */
export class Memory {
  private readonly vocabularies = new Map<string, Promise<Vocabulary>>();
  /**
   * Tenants whose statistics predate another writer's change: searches keep using them while one
   * rebuild per tenant runs in the background (`refreshing`).
   */
  private readonly stale = new Set<string>();
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Chunks read per tenant to build its term statistics at most (see {@link VOCABULARY_MAX_CHUNKS}). */
  vocabularyMaxChunks = VOCABULARY_MAX_CHUNKS;
  /** How often a search checks for other writers' changes to the table, ms. */
  vocabularyCheckMs = VOCABULARY_CHECK_MS;
  /** Fusion settings of hybrid search (used only with an embedder). */
  hybrid: HybridOptions = DEFAULT_HYBRID;
  /**
   * Query expansion of full-text search (related words weighted below the words asked); undefined
   * (the default) searches the words of the question only. Off in Atom: no general English
   * resource measured lifted answers on held-out questions (bench/README.md, "Query expansion with
   * no key"); kept for measuring others (`bench/expansion.ts`). Hybrid search does not use it.
   */
  expansion: QueryExpansion | undefined;
  private tableVersion: number | undefined;
  /** Search latencies of the last hour per tenant (status, dashboard). */
  readonly searchLatency = new LatencyWindow();
  private versionCheckedAt = 0;

  /** The tenant's active embedding space for queries; unset = full-text search only. */
  queryVectors: QueryVectorSource | undefined;
  /**
   * Called after a tenant's chunks changed here (sync, note): the background embedder is offered
   * a job. Must not throw or wait.
   */
  onChanged: ((tenantId: string) => void) | undefined;

  constructor(
    readonly db: Db,
    readonly store: ChunkStore,
    private readonly logger: Logger,
  ) {}

  /**
   * Searches a tenant's memory: hybrid (`mode: "hybrid"`) when the tenant has an active embedding
   * space ({@link Memory.queryVectors}), else full-text (`mode: "fts"`). Only chunks whose ACL
   * shares a principal with `opts.principals` are considered. A failure to find or use the space
   * (provider down, key refused) falls back to full-text search.
   */
  async search(query: string, opts: SearchOptions): Promise<SearchResult> {
    const vocab = await this.vocabulary(opts.tenantId);
    let space: QueryVectors | undefined;
    try {
      space = await this.queryVectors?.(opts.tenantId);
    } catch (err) {
      this.logger.warn(
        { err, tenantId: opts.tenantId },
        "embedding settings unavailable; full-text search only",
      );
    }
    const result = space
      ? await hybridSearch(this.store, space, query, opts, vocab, undefined, this.hybrid, (err) =>
          this.logger.warn({ err }, "query embedding failed; full-text search only"),
        )
      : await searchChunks(this.store, query, opts, vocab, undefined, this.expansion);
    if (opts.readDocuments) {
      const started = performance.now();
      await readDocuments(this.store, result.hits.slice(0, opts.readDocuments), opts);
      result.tookMs += performance.now() - started;
    }
    searchSeconds.observe({ mode: result.mode }, result.tookMs / 1000);
    this.searchLatency.record(opts.tenantId, result.tookMs);
    return result;
  }

  /**
   * Syncs any source into a tenant's memory. New and changed chunks are embedded afterwards in
   * the background ({@link Memory.onChanged}); until then they are found by full-text search.
   */
  async sync(source: Source, opts: SyncOptions): Promise<SyncSummary> {
    const summary = await countSync(source.kind, () =>
      syncSource(this.db, this.store, source, {
        ...opts,
        onChange: () => this.vocabularies.delete(opts.tenantId),
      }),
    );
    this.changed(opts.tenantId);
    return summary;
  }

  /**
   * Syncs a change-feed source (Google Drive, OneDrive) into a tenant's memory: a full listing
   * without a cursor, else the changes since it (see memory/feed-sync.ts). New chunks are embedded
   * afterwards in the background.
   */
  async syncFeed(source: Source, opts: Omit<FeedSyncOptions, "onChange">): Promise<FeedSyncSummary> {
    const summary = await countSync(source.kind, () =>
      syncFeed(this.db, this.store, source, {
        ...opts,
        onChange: () => this.vocabularies.delete(opts.tenantId),
      }),
    );
    this.changed(opts.tenantId);
    return summary;
  }

  private changed(tenantId: string): void {
    try {
      this.onChanged?.(tenantId);
    } catch (err) {
      this.logger.warn({ err, tenantId }, "could not offer the background embedder a job");
    }
  }

  /**
   * Deletes every chunk and document of one source of a tenant (a connection was removed).
   */
  async purgeSource(tenantId: string, sourceId: string): Promise<void> {
    await this.store.deleteTenant(tenantId, sourceId);
    await this.store.refreshIndex();
    await this.db.query("DELETE FROM documents WHERE tenant_id = $1 AND source_id = $2", [
      tenantId,
      sourceId,
    ]);
    await this.db.query("DELETE FROM sources WHERE tenant_id = $1 AND source_id = $2", [tenantId, sourceId]);
    this.vocabularies.delete(tenantId);
  }

  /** Syncs a local folder (documents readable by everyone in the tenant unless `defaultAcl` says otherwise). */
  syncFolder(dir: string, opts: SyncOptions & { sourceId?: string }): Promise<SyncSummary> {
    return this.sync(new LocalFolderSource(dir, { id: opts.sourceId }), opts);
  }

  /**
   * Stores a note ("remember that …") as a one-chunk document of the `notes` source, citable later.
   * @returns the stored document's metadata.
   */
  async remember(input: {
    tenantId: string;
    text: string;
    author: string;
    /** Who stored it, `<platform>:<user id>` (what "forget my notes" matches). */
    authorKey?: string;
    acl: Principal[];
  }): Promise<DocumentMeta> {
    const id = randomUUID();
    const now = Date.now();
    const title = `Note from ${input.author}, ${new Date(now).toISOString().slice(0, 10)}`;
    const meta: DocumentMeta = {
      tenantId: input.tenantId,
      source: NOTES_SOURCE,
      docId: id,
      title,
      uri: `note:${id}`,
      mime: "text/plain",
      modifiedAt: now,
      acl: input.acl,
    };
    const chunks = chunkDocument({ title, sections: [{ headings: [], text: input.text }] });
    await this.db.query(
      `INSERT INTO sources (tenant_id, source_id, kind, label) VALUES ($1, $2, 'notes', 'Notes')
       ON CONFLICT (tenant_id, source_id) DO NOTHING`,
      [input.tenantId, NOTES_SOURCE],
    );
    await this.store.replaceDocument(meta, chunks);
    await this.store.refreshIndex();
    await this.db.query(
      `INSERT INTO documents (tenant_id, source_id, doc_id, uri, title, mime, version, content_hash, modified_at, acl, chunk_count, author)
       VALUES ($1, $2, $3, $4, $5, 'text/plain', '1', '', now(), $6::jsonb, $7, $8)`,
      [
        input.tenantId,
        NOTES_SOURCE,
        id,
        meta.uri,
        title,
        JSON.stringify(input.acl),
        chunks.length,
        input.authorKey ?? null,
      ],
    );
    await this.db.query(
      "UPDATE sources SET last_sync_at = now(), last_status = 'ok' WHERE tenant_id = $1 AND source_id = $2",
      [input.tenantId, NOTES_SOURCE],
    );
    this.vocabularies.delete(input.tenantId);
    // Found by full-text search at once, by meaning once the background embedder ran.
    this.changed(input.tenantId);
    return meta;
  }

  /**
   * Deletes every note a person stored in a tenant: notes recorded with their `authorKey`, and
   * notes from before authors were recorded whose title names them (`Note from <author>, …`).
   * Removes the chunks from LanceDB and the document rows. @returns how many notes went.
   */
  async forgetNotes(tenantId: string, authorKey: string, authorNames: string[]): Promise<number> {
    const r = await this.db.query<{ doc_id: string }>(
      `SELECT doc_id FROM documents WHERE tenant_id = $1 AND source_id = $2
         AND (author = $3 OR (author IS NULL AND substring(title FROM '^Note from (.*), [0-9-]+$') = ANY($4::text[])))`,
      [tenantId, NOTES_SOURCE, authorKey, authorNames],
    );
    const ids = r.rows.map((x) => x.doc_id);
    if (ids.length === 0) return 0;
    await this.store.deleteDocuments(tenantId, NOTES_SOURCE, ids);
    await this.store.refreshIndex();
    await this.db.query(
      "DELETE FROM documents WHERE tenant_id = $1 AND source_id = $2 AND doc_id = ANY($3::text[])",
      [tenantId, NOTES_SOURCE, ids],
    );
    this.vocabularies.delete(tenantId);
    return ids.length;
  }

  /** Per-source counts and last sync of a tenant. */
  async status(tenantId: string): Promise<SourceStatus[]> {
    const rows = await this.db.query<{
      source_id: string;
      kind: string;
      label: string;
      last_sync_at: Date | null;
      last_status: string | null;
      last_error: string | null;
      documents: string | number;
      chunks: string | number | null;
    }>(
      `SELECT s.source_id, s.kind, s.label, s.last_sync_at, s.last_status, s.last_error,
              count(d.doc_id) AS documents, coalesce(sum(d.chunk_count), 0) AS chunks
       FROM sources s LEFT JOIN documents d ON d.tenant_id = s.tenant_id AND d.source_id = s.source_id
       WHERE s.tenant_id = $1
       GROUP BY s.source_id, s.kind, s.label, s.last_sync_at, s.last_status, s.last_error
       ORDER BY s.source_id`,
      [tenantId],
    );
    return rows.rows.map((r) => ({
      sourceId: r.source_id,
      kind: r.kind,
      label: r.label,
      documents: Number(r.documents),
      chunks: Number(r.chunks ?? 0),
      lastSyncAt: r.last_sync_at ? new Date(r.last_sync_at) : null,
      lastStatus: r.last_status,
      lastError: r.last_error,
    }));
  }

  /** Deletes everything a tenant has in memory: chunks, documents and sources. */
  async purgeTenant(tenantId: string): Promise<void> {
    await this.store.deleteTenant(tenantId);
    await this.store.refreshIndex();
    await this.db.query("DELETE FROM documents WHERE tenant_id = $1", [tenantId]);
    await this.db.query("DELETE FROM sources WHERE tenant_id = $1", [tenantId]);
    this.vocabularies.delete(tenantId);
  }

  /** Resolves when LanceDB answers (readiness). */
  ping(): Promise<void> {
    return this.store.ping();
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * The tenant's term statistics (what searches weight and spell-correct query words with), built
   * from its chunks on first use and after each change made here (the next search waits for them).
   * Other replicas write to the same table: at most every {@link Memory.vocabularyCheckMs} the
   * table version is compared with the one the statistics were built from; after a change, searches
   * keep the current statistics while new ones are built in the background (see {@link settled}).
   */
  async vocabulary(tenantId: string): Promise<Vocabulary> {
    const now = Date.now();
    if (now - this.versionCheckedAt > this.vocabularyCheckMs) {
      this.versionCheckedAt = now;
      const version = await this.store.chunks.version().catch(() => this.tableVersion);
      if (version !== this.tableVersion) {
        if (this.tableVersion !== undefined) for (const t of this.vocabularies.keys()) this.stale.add(t);
        this.tableVersion = version;
      }
    }
    let v = this.vocabularies.get(tenantId);
    if (!v) {
      this.stale.delete(tenantId);
      v = this.buildVocabulary(tenantId);
      this.vocabularies.set(tenantId, v);
      v.catch(() => this.vocabularies.delete(tenantId));
    } else if (this.stale.has(tenantId) && !this.refreshing.has(tenantId)) {
      // Another writer changed the table: answer with the current statistics (they were already
      // up to 30 s old by design) and replace them once rebuilt, instead of making this search wait.
      this.stale.delete(tenantId);
      const next = this.buildVocabulary(tenantId);
      const done = next.then(
        () => {
          // An own write meanwhile dropped the entry: the next search builds it afresh.
          if (this.vocabularies.get(tenantId) === v) this.vocabularies.set(tenantId, next);
        },
        (err) => {
          this.stale.add(tenantId);
          this.logger.warn({ err, tenantId }, "refreshing term statistics failed; keeping the previous ones");
        },
      );
      this.refreshing.set(tenantId, done);
      void done.finally(() => this.refreshing.delete(tenantId));
    }
    return v;
  }

  /** Resolves when background rebuilds of term statistics have finished (tests, benchmarks). */
  async settled(): Promise<void> {
    await Promise.all(this.refreshing.values());
  }

  /**
   * Builds a tenant's term statistics from its chunks' text: all of them up to
   * {@link VOCABULARY_MAX_CHUNKS}, else an even sample of about that many (one chunk in k, chosen
   * by row id) whose counts are scaled by k.
   */
  private async buildVocabulary(tenantId: string): Promise<Vocabulary> {
    const started = performance.now();
    const filter = eq("tenant_id", tenantId);
    const total = await this.store.count(filter);
    const k = Math.max(1, Math.ceil(total / this.vocabularyMaxChunks));
    const vocab = new Vocabulary(k);
    const rows = await this.store.chunks
      .query()
      .where(k > 1 ? `${filter} AND _rowid % ${k} = 0` : filter)
      .select(["text"])
      .toArrow();
    const text = rows.getChild("text");
    if (text) for (const t of text.toArray() as string[]) vocab.update(String(t));
    this.logger.debug(
      { tenantId, chunks: total, sampled: rows.numRows, ms: Math.round(performance.now() - started) },
      "vocabulary built",
    );
    return vocab;
  }
}

/**
 * Opens memory: the LanceDB chunks table at `uri` over an already migrated database. A table of an
 * earlier Atom that kept vectors in the chunks table is rebuilt without them (chunks kept); the
 * background embedder fills the per-space vector tables again.
 */
export async function openMemory(opts: {
  db: Db;
  uri: string;
  logger: Logger;
  /** LanceDB storage options for an object-store URI (see memory/object-store.ts). */
  storageOptions?: Record<string, string>;
}): Promise<Memory> {
  // Replicas on one PostgreSQL share the table: one writer at a time, cluster-wide.
  const store = await ChunkStore.open(opts.uri, {
    storageOptions: opts.storageOptions,
    writeLock: advisoryLock(opts.db, `atom:lancedb:${opts.uri}:${CHUNKS_TABLE}`),
  });
  if (store.rebuilt) {
    opts.logger.info("chunks table rebuilt without its vector column: vectors now live per embedding model");
  }
  return new Memory(opts.db, store, opts.logger);
}

/**
 * Runs one sync and records it in the metrics: documents added/updated/deleted and errors by
 * source kind, and its duration by outcome (`ok`, `partial`, `failed` when it throws).
 */
async function countSync<
  T extends { added: number; updated: number; deleted: number; errors: unknown[]; durationMs: number },
>(kind: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let summary: T;
  try {
    summary = await run();
  } catch (err) {
    syncErrorsTotal.inc({ kind });
    syncSeconds.observe({ kind, outcome: "failed" }, (performance.now() - started) / 1000);
    throw err;
  }
  if (summary.added > 0) syncDocumentsTotal.inc({ kind, change: "added" }, summary.added);
  if (summary.updated > 0) syncDocumentsTotal.inc({ kind, change: "updated" }, summary.updated);
  if (summary.deleted > 0) syncDocumentsTotal.inc({ kind, change: "deleted" }, summary.deleted);
  if (summary.errors.length > 0) syncErrorsTotal.inc({ kind }, summary.errors.length);
  syncSeconds.observe(
    { kind, outcome: summary.errors.length > 0 ? "partial" : "ok" },
    (performance.now() - started) / 1000,
  );
  return summary;
}
