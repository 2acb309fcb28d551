import os from "node:os";
import * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Float64, Int32, List, Schema, Utf8 } from "apache-arrow";
import type { ChunkDraft, DocumentMeta, Principal } from "./types.ts";

// Lance sizes its compute pool as CPUs minus 2; on hosts with 4 CPUs or fewer that leaves one
// thread, and building a full-text index can then deadlock (lancedb/lancedb#3568,
// lance-format/lance#7350). Lance reads this when it first starts the pool, which happens after
// this module is evaluated.
if (!process.env.LANCE_CPU_THREADS && os.availableParallelism() <= 4) process.env.LANCE_CPU_THREADS = "4";

/** Name of the LanceDB table holding chunks. */
export const CHUNKS_TABLE = "chunks";

/** A stored chunk row, as read back from LanceDB. */
export interface ChunkRow {
  id: string;
  tenant_id: string;
  source: string;
  doc_id: string;
  title: string;
  uri: string;
  mime: string;
  modified_at: number;
  acl: Principal[];
  chunk_index: number;
  headings: string;
  text: string;
  _score?: number;
  _distance?: number;
}

/** The columns searches read back (everything but the indexed `fts` text and the vector). */
export const CHUNK_COLUMNS = [
  "tenant_id",
  "source",
  "doc_id",
  "title",
  "uri",
  "mime",
  "modified_at",
  "acl",
  "chunk_index",
  "headings",
  "text",
];

/**
 * Runs a LanceDB query and returns its rows as plain objects, decoded column by column (list
 * columns become string arrays). Reading Arrow rows through their proxies decodes a value on every
 * access, which costs more than the query itself for a few hundred passages.
 */
export async function readRows<T>(query: lancedb.Query | lancedb.VectorQuery): Promise<T[]> {
  const table = await query.toArrow();
  const n = table.numRows;
  const rows: Record<string, unknown>[] = Array.from({ length: n }, () => ({}));
  for (const field of table.schema.fields) {
    const col = table.getChild(field.name);
    if (!col) continue;
    const list = field.type instanceof List;
    const values = col.toArray() as ArrayLike<unknown>;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      rows[i]![field.name] = list
        ? v == null
          ? []
          : Array.from((v as { toArray(): unknown[] }).toArray())
        : v;
    }
  }
  return rows as T[];
}

/** Separator of heading paths in the `headings` column. */
export const HEADING_SEPARATOR = " > ";

/**
 * Quotes a value for a LanceDB (DataFusion SQL) filter: single quotes are doubled, so user or
 * document data can never end the literal and inject filter syntax. NUL characters are refused.
 * @throws Error when the value holds a NUL character.
 */
export function sqlString(value: string): string {
  if (value.includes("\u0000")) throw new Error("filter value contains a NUL character");
  return `'${value.replace(/'/g, "''")}'`;
}

/** `column = 'value'` with the value escaped. */
export function eq(column: string, value: string): string {
  return `${column} = ${sqlString(value)}`;
}

/** Filter that keeps rows whose `acl` shares at least one of `principals`. */
export function aclFilter(principals: Principal[]): string {
  if (principals.length === 0) return "false";
  return `array_has_any(acl, [${principals.map((p) => sqlString(p.toLowerCase())).join(", ")}])`;
}

/** How LanceDB is reached and how writes are serialised across processes. */
export interface StoreOptions {
  /** LanceDB storage options (object-store credentials, endpoint), see memory/object-store.ts. */
  storageOptions?: Record<string, string>;
  /**
   * Runs a write while holding a lock shared by every replica (one writer per table at a time,
   * see db/locks.ts); default: no cross-process lock.
   */
  writeLock?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * Seconds after which a read checks for other processes' commits (LanceDB
   * `readConsistencyInterval`); default 5.
   */
  readConsistencySeconds?: number;
}

/** Vector settings of the chunks table when an embedder is configured. */
export interface VectorSpec {
  model: string;
  dims: number;
}

/** Schema metadata keys recording the embedding model and dimension of the `vector` column. */
export const EMBEDDING_MODEL_KEY = "atom.embedding.model";
export const EMBEDDING_DIMS_KEY = "atom.embedding.dims";

/** The vector settings recorded in a chunks table's schema, or undefined when it has no vector column. */
export function recordedVector(schema: Schema): { model?: string; dims: number } | undefined {
  const vf = schema.fields.find((f) => f.name === "vector");
  if (!vf) return undefined;
  return { model: schema.metadata.get(EMBEDDING_MODEL_KEY), dims: (vf.type as FixedSizeList).listSize };
}

function chunkSchema(vector?: VectorSpec): Schema {
  const fields: Field[] = [
    new Field("id", new Utf8(), false),
    new Field("tenant_id", new Utf8(), false),
    new Field("source", new Utf8(), false),
    new Field("doc_id", new Utf8(), false),
    new Field("title", new Utf8(), false),
    new Field("uri", new Utf8(), false),
    new Field("mime", new Utf8(), false),
    new Field("modified_at", new Float64(), false),
    new Field("acl", new List(new Field("item", new Utf8(), true)), false),
    new Field("chunk_index", new Int32(), false),
    new Field("headings", new Utf8(), false),
    new Field("text", new Utf8(), false),
    // What full-text search indexes: title and heading path (repeated, as a field boost) + text.
    new Field("fts", new Utf8(), false),
  ];
  if (vector) {
    fields.push(
      new Field("vector", new FixedSizeList(vector.dims, new Field("item", new Float32(), true)), true),
    );
    return new Schema(
      fields,
      new Map([
        [EMBEDDING_MODEL_KEY, vector.model],
        [EMBEDDING_DIMS_KEY, String(vector.dims)],
      ]),
    );
  }
  return new Schema(fields);
}

/**
 * Text that full-text search indexes for a chunk. Title, heading path and the words of the
 * document's path ("process/incidents/on_call.md" → "process incidents on call") are fields that
 * describe the whole passage, so they are repeated to weigh more than body text.
 */
export function ftsText(title: string, headings: string[], text: string, uri = ""): string {
  const head = headings.join(" ");
  const pathWords = uriWords(uri);
  return `${title}\n${title}\n${pathWords}\n${head}\n${head}\n${text}`;
}

/** Words of a relative path ("a/on_call.md" → "on call"); none for URLs and other schemes. */
export function uriWords(uri: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) return "";
  return uri
    .replace(/\.[a-z0-9]{1,5}$/i, "")
    .split(/[\\/_\-.\s]+/)
    .filter((w) => w.length > 1 && !/^\d+$/.test(w) && !/^index$/i.test(w))
    .join(" ");
}

/**
 * The LanceDB side of memory: one `chunks` table with every tenant's chunks, an FTS index on
 * the `fts` column, and writes serialised through one queue (LanceDB commits are optimistic;
 * one writer per table avoids conflicts and keeps fragments large).
 */
export class ChunkStore {
  private queue: Promise<unknown> = Promise.resolve();
  /** Columns that have an index (fts, tenant_id, acl). */
  private indexed = new Set<string>();
  private writesSinceOptimize = 0;
  /**
   * True when `open` rebuilt the table for another embedding model or dimension (or for adding or
   * removing the vector column): chunks were kept, their vectors are empty until re-embedded.
   */
  rebuilt = false;

  private constructor(
    private readonly conn: lancedb.Connection,
    private table: lancedb.Table,
    readonly vector: VectorSpec | undefined,
    private readonly writeLock: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {}

  /**
   * Opens (or creates) the chunks table at `uri` (a directory or object-store URI).
   * The embedding model and dimension are recorded in the table's schema metadata. When `vector`
   * differs from what the table records (another model or dimension, or a vector column added or
   * removed), the table is rebuilt with the same chunks and empty vectors — never a dimension
   * mismatch — and `rebuilt` is set; {@link ChunkStore.rowsWithoutVector} then lists what to
   * re-embed.
   */
  static async open(uri: string, vector?: VectorSpec, opts: StoreOptions = {}): Promise<ChunkStore> {
    // Replicas share the table: reads see other processes' commits within 5 s.
    const conn = await lancedb.connect(uri, {
      readConsistencyInterval: opts.readConsistencySeconds ?? 5,
      ...(opts.storageOptions ? { storageOptions: opts.storageOptions } : {}),
    });
    const names = await conn.tableNames();
    let table: lancedb.Table | undefined;
    let rebuilt = false;
    // A rebuild that stopped midway left its complete backup: finish it from there.
    let rows = names.includes(REBUILD_TABLE) ? await readBackup(conn) : undefined;
    if (names.includes(CHUNKS_TABLE)) {
      table = await conn.openTable(CHUNKS_TABLE);
      const recorded = recordedVector(await table.schema());
      if (!rows && (recorded?.dims !== vector?.dims || recorded?.model !== vector?.model)) {
        rows = await readChunksWithoutVector(table);
        // One atomic commit: the backup exists complete, or not at all.
        await conn.createTable(REBUILD_TABLE, rows.length > 0 ? rows : [], {
          schema: chunkSchema(undefined),
          mode: "overwrite",
        });
      }
    }
    if (rows) {
      table?.close();
      if ((await conn.tableNames()).includes(CHUNKS_TABLE)) await conn.dropTable(CHUNKS_TABLE);
      table = await conn.createEmptyTable(CHUNKS_TABLE, chunkSchema(vector));
      const withVector = vector ? rows.map((r) => ({ ...r, vector: null })) : rows;
      for (let i = 0; i < withVector.length; i += 5000) await table.add(withVector.slice(i, i + 5000));
      await conn.dropTable(REBUILD_TABLE);
      rebuilt = true;
    } else if (!table) {
      table = await conn.createEmptyTable(CHUNKS_TABLE, chunkSchema(vector), { existOk: true });
    }
    const store = new ChunkStore(conn, table, vector, opts.writeLock);
    store.rebuilt = rebuilt;
    store.indexed = new Set((await table.listIndices()).flatMap((i) => i.columns));
    if (rebuilt) await store.refreshIndex();
    return store;
  }

  /**
   * Serialises a write behind this process's earlier ones, and behind other replicas' through the
   * write lock (LanceDB commits are optimistic: one writer at a time keeps them conflict-free).
   */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    const locked = () => this.writeLock(fn);
    const run = this.queue.then(locked, locked);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Replaces all chunks of one document with `chunks` (delete + add in one queued write).
   * @param vectors one embedding per chunk when the table has a vector column.
   * @throws Error when a vector has the wrong length (LanceDB would silently pad it).
   */
  async replaceDocument(meta: DocumentMeta, chunks: ChunkDraft[], vectors?: number[][]): Promise<void> {
    this.checkVectors(chunks.length, vectors);
    const rows = this.toRows(meta, chunks, vectors);
    await this.write(async () => {
      await this.table.delete(documentFilter(meta.tenantId, meta.source, meta.docId));
      if (rows.length > 0) await this.table.add(rows);
      this.writesSinceOptimize++;
    });
  }

  /** @throws Error unless `vectors` is absent or holds one vector of the table's dimension per chunk. */
  private checkVectors(chunks: number, vectors: number[][] | undefined): void {
    if (!vectors) return;
    if (!this.vector) throw new Error("this memory has no vector column");
    if (vectors.length !== chunks) throw new Error("one vector per chunk is required");
    for (const v of vectors) {
      if (v.length !== this.vector.dims) {
        throw new Error(`embedding has ${v.length} dimensions, the table expects ${this.vector.dims}`);
      }
    }
  }

  /**
   * Adds many documents' chunks in one write (first ingest of a folder). Existing rows are not
   * touched. `vectors`, when given, holds one embedding per chunk.
   * @throws Error when a vector has the wrong length (LanceDB would silently pad it).
   */
  async addRows(batch: { meta: DocumentMeta; chunks: ChunkDraft[]; vectors?: number[][] }[]): Promise<void> {
    for (const b of batch) this.checkVectors(b.chunks.length, b.vectors);
    const rows = batch.flatMap(({ meta, chunks, vectors }) => this.toRows(meta, chunks, vectors));
    if (rows.length === 0) return;
    await this.write(async () => {
      await this.table.add(rows);
      this.writesSinceOptimize++;
    });
  }

  private toRows(meta: DocumentMeta, chunks: ChunkDraft[], vectors?: number[][]): Record<string, unknown>[] {
    const acl = [...new Set(meta.acl.map((p) => p.toLowerCase()))];
    return chunks.map((c, i) => ({
      id: `${meta.tenantId}/${meta.source}/${meta.docId}#${c.chunkIndex}`,
      tenant_id: meta.tenantId,
      source: meta.source,
      doc_id: meta.docId,
      title: meta.title,
      uri: meta.uri,
      mime: meta.mime,
      modified_at: meta.modifiedAt,
      acl,
      chunk_index: c.chunkIndex,
      headings: c.headings.join(HEADING_SEPARATOR),
      text: c.text,
      fts: ftsText(meta.title, c.headings, c.text, meta.uri),
      ...(this.vector ? { vector: vectors?.[i] ?? null } : {}),
    }));
  }

  /**
   * Up to `limit` chunks that have no vector yet (after a model change, or written without an
   * embedder), optionally of one tenant: id, title, headings and text.
   */
  async rowsWithoutVector(
    limit: number,
    tenantId?: string,
  ): Promise<{ id: string; title: string; headings: string; text: string }[]> {
    if (!this.vector) return [];
    const filter = tenantId ? `vector IS NULL AND ${eq("tenant_id", tenantId)}` : "vector IS NULL";
    const rows = await this.table
      .query()
      .where(filter)
      .select(["id", "title", "headings", "text"])
      .limit(limit)
      .toArray();
    return rows.map((r) => ({
      id: String(r.id),
      title: String(r.title),
      headings: String(r.headings),
      text: String(r.text),
    }));
  }

  /**
   * Sets the vectors of existing chunks by id (rows that no longer exist are ignored).
   * @throws Error when a vector has the wrong length.
   */
  async setVectors(items: { id: string; vector: number[] }[]): Promise<void> {
    if (items.length === 0) return;
    this.checkVectors(
      items.length,
      items.map((i) => i.vector),
    );
    await this.write(async () => {
      const ids = items.map((i) => sqlString(i.id)).join(", ");
      const current = await this.table.query().where(`id IN (${ids})`).toArray();
      const byId = new Map(items.map((i) => [i.id, i.vector]));
      const rows = current.map((r) => {
        const row: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r.toJSON() as Record<string, unknown>)) row[k] = v;
        row.acl = Array.from(r.acl as Iterable<string>);
        row.vector = byId.get(String(r.id));
        return row;
      });
      if (rows.length > 0) await this.table.mergeInsert("id").whenMatchedUpdateAll().execute(rows);
      this.writesSinceOptimize++;
    });
  }

  /** Deletes the chunks of the given documents of one source. */
  async deleteDocuments(tenantId: string, source: string, docIds: string[]): Promise<void> {
    if (docIds.length === 0) return;
    await this.write(async () => {
      for (let i = 0; i < docIds.length; i += 200) {
        const ids = docIds
          .slice(i, i + 200)
          .map(sqlString)
          .join(", ");
        await this.table.delete(
          `${eq("tenant_id", tenantId)} AND ${eq("source", source)} AND doc_id IN (${ids})`,
        );
      }
      this.writesSinceOptimize++;
    });
  }

  /**
   * Replaces the ACL of every chunk of one document (a sharing-only change: the text is not
   * extracted again).
   * @throws Error when `acl` is empty (a document nobody may read is deleted instead).
   */
  async setAcl(tenantId: string, source: string, docId: string, acl: Principal[]): Promise<void> {
    const list = [...new Set(acl.map((p) => p.toLowerCase()))];
    if (list.length === 0) throw new Error("an ACL needs at least one principal");
    await this.write(async () => {
      await this.table.update({
        where: documentFilter(tenantId, source, docId),
        valuesSql: { acl: `[${list.map(sqlString).join(", ")}]` },
      });
      this.writesSinceOptimize++;
    });
  }

  /** Deletes every chunk of a tenant (uninstall), optionally of one source only. */
  async deleteTenant(tenantId: string, source?: string): Promise<void> {
    await this.write(async () => {
      await this.table.delete(
        source ? `${eq("tenant_id", tenantId)} AND ${eq("source", source)}` : eq("tenant_id", tenantId),
      );
      this.writesSinceOptimize++;
    });
  }

  /**
   * Makes full-text search current: creates the FTS index on first use and folds rows added
   * since into it (LanceDB also searches unindexed rows, so results are correct either way;
   * this keeps them fast). Compacts small fragments.
   */
  async refreshIndex(): Promise<void> {
    await this.write(async () => {
      if ((await this.table.countRows()) === 0) return;
      let missing = ["fts", "tenant_id", "acl"].filter((c) => !this.indexed.has(c));
      if (missing.length > 0) {
        // Another replica may have built them since this one opened the table.
        for (const i of await this.table.listIndices()) for (const c of i.columns) this.indexed.add(c);
        missing = missing.filter((c) => !this.indexed.has(c));
      }
      if (missing.length === 0) {
        if (this.writesSinceOptimize > 0) {
          // Compacts fragments and folds new rows into every index.
          await this.table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
          this.writesSinceOptimize = 0;
        }
        return;
      }
      // First build: compact the fragments of the bulk load, then index. The scalar indexes make
      // the tenant and ACL prefilter of every search cheap.
      await this.table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
      if (missing.includes("fts")) {
        await this.table.createIndex("fts", {
          config: lancedb.Index.fts({
            baseTokenizer: "simple",
            language: "English",
            stem: true,
            removeStopWords: true,
            asciiFolding: true,
            lowercase: true,
            withPosition: false,
            maxTokenLength: 40,
          }),
          replace: true,
        });
      }
      if (missing.includes("tenant_id")) {
        await this.table.createIndex("tenant_id", { config: lancedb.Index.btree(), replace: true });
      }
      if (missing.includes("acl")) {
        await this.table.createIndex("acl", { config: lancedb.Index.labelList(), replace: true });
      }
      for (const c of missing) this.indexed.add(c);
      this.writesSinceOptimize = 0;
    });
  }

  /**
   * Scheduled maintenance, in the write queue: compacts fragments, folds new rows into every
   * index (`optimize`) and deletes versions older than `keepVersionsMs` (default one hour).
   * @returns what it did (fragments compacted, versions and bytes removed).
   */
  async maintain(keepVersionsMs = 3_600_000): Promise<{
    fragmentsRemoved: number;
    fragmentsAdded: number;
    versionsRemoved: number;
    bytesRemoved: number;
  }> {
    return this.write(async () => {
      const s = await this.table.optimize({ cleanupOlderThan: new Date(Date.now() - keepVersionsMs) });
      this.writesSinceOptimize = 0;
      return {
        fragmentsRemoved: s.compaction.fragmentsRemoved,
        fragmentsAdded: s.compaction.fragmentsAdded,
        versionsRemoved: s.prune.oldVersionsRemoved,
        bytesRemoved: s.prune.bytesRemoved,
      };
    });
  }

  /**
   * Size of the chunks table: rows, bytes of the current version, versions kept, fragments
   * (and small ones), and rows not yet in the full-text index.
   */
  async tableStats(): Promise<{
    rows: number;
    bytes: number;
    versions: number;
    fragments: number;
    smallFragments: number;
    unindexedRows: number;
  }> {
    const [stats, versions, fts] = await Promise.all([
      this.table.stats(),
      this.table.listVersions(),
      this.indexed.has("fts") ? this.table.indexStats("fts_idx").catch(() => undefined) : undefined,
    ]);
    return {
      rows: stats.numRows,
      bytes: stats.totalBytes,
      versions: versions.length,
      fragments: stats.fragmentStats.numFragments,
      smallFragments: stats.fragmentStats.numSmallFragments,
      unindexedRows: fts ? fts.numUnindexedRows : stats.numRows,
    };
  }

  /** The table, for queries. */
  get chunks(): lancedb.Table {
    return this.table;
  }

  /** Number of chunks matching an optional filter. */
  async count(filter?: string): Promise<number> {
    return this.table.countRows(filter);
  }

  /** Resolves when the table answers a trivial query (readiness). */
  async ping(): Promise<void> {
    await this.table.countRows();
  }

  /** Waits for queued writes and closes the connection. */
  async close(): Promise<void> {
    await this.queue.catch(() => {});
    this.table.close();
    this.conn.close();
  }
}

/** Name of the table holding a copy of every chunk while the chunks table is rebuilt. */
export const REBUILD_TABLE = "chunks_rebuild";

/** Every chunk of `table` as plain rows, without the vector column. */
async function readChunksWithoutVector(table: lancedb.Table): Promise<Record<string, unknown>[]> {
  const keep = chunkSchema(undefined).fields.map((f) => f.name);
  const have = new Set((await table.schema()).fields.map((f) => f.name));
  const old = await table
    .query()
    .select(keep.filter((k) => have.has(k)))
    .toArray();
  return old.map((r) => {
    const row: Record<string, unknown> = {};
    for (const k of keep) row[k] = r[k] ?? "";
    row.acl = Array.from((r.acl ?? []) as Iterable<string>);
    return row;
  });
}

/** The rows of an interrupted rebuild's backup, or undefined when the backup is unreadable. */
async function readBackup(conn: lancedb.Connection): Promise<Record<string, unknown>[] | undefined> {
  try {
    const backup = await conn.openTable(REBUILD_TABLE);
    const rows = await readChunksWithoutVector(backup);
    backup.close();
    return rows;
  } catch {
    await conn.dropTable(REBUILD_TABLE).catch(() => {});
    return undefined;
  }
}

/** Filter selecting all chunks of one document. */
export function documentFilter(tenantId: string, source: string, docId: string): string {
  return `${eq("tenant_id", tenantId)} AND ${eq("source", source)} AND ${eq("doc_id", docId)}`;
}
