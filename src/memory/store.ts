import os from "node:os";
import * as lancedb from "@lancedb/lancedb";
import { Field, Float64, Int32, List, Schema, Utf8 } from "apache-arrow";
import type { ChunkDraft, DocumentMeta, Principal } from "./types.ts";
import { chunkFingerprint, VectorTables } from "./vectors.ts";

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

/**
 * Whether a chunks table still has the `vector` column of Atom before per-space vector tables
 * (memory/vectors.ts): such a table is rebuilt without it when opened.
 */
export function hasLegacyVector(schema: Schema): boolean {
  return schema.fields.some((f) => f.name === "vector");
}

function chunkSchema(): Schema {
  return new Schema([
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
  ]);
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
   * True when `open` rebuilt a table of an earlier Atom that kept vectors in the chunks table:
   * chunks were kept, their vectors go to per-space tables when embedded again.
   */
  rebuilt = false;
  /** Vectors of every embedding space, kept consistent with the chunks by this store's writes. */
  readonly vectors: VectorTables;

  private constructor(
    private readonly conn: lancedb.Connection,
    private table: lancedb.Table,
    private readonly writeLock: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {
    this.vectors = new VectorTables(conn);
  }

  /**
   * Opens (or creates) the chunks table at `uri` (a directory or object-store URI). A table of an
   * earlier Atom with a `vector` column is rebuilt without it (same chunks; `rebuilt` is set) —
   * vectors now live in one table per embedding space (memory/vectors.ts).
   */
  static async open(uri: string, opts: StoreOptions = {}): Promise<ChunkStore> {
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
      if (!rows && hasLegacyVector(await table.schema())) {
        rows = await readChunksWithoutVector(table);
        // One atomic commit: the backup exists complete, or not at all.
        await conn.createTable(REBUILD_TABLE, rows.length > 0 ? rows : [], {
          schema: chunkSchema(),
          mode: "overwrite",
        });
      }
    }
    if (rows) {
      table?.close();
      if ((await conn.tableNames()).includes(CHUNKS_TABLE)) await conn.dropTable(CHUNKS_TABLE);
      table = await conn.createEmptyTable(CHUNKS_TABLE, chunkSchema());
      for (let i = 0; i < rows.length; i += 5000) await table.add(rows.slice(i, i + 5000));
      await conn.dropTable(REBUILD_TABLE);
      rebuilt = true;
    } else if (!table) {
      table = await conn.createEmptyTable(CHUNKS_TABLE, chunkSchema(), { existOk: true });
    }
    const store = new ChunkStore(conn, table, opts.writeLock);
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
   * Replaces all chunks of one document with `chunks` (delete + add in one queued write). The
   * document's vectors in every space are deleted too: the new text is embedded in the background.
   */
  async replaceDocument(meta: DocumentMeta, chunks: ChunkDraft[]): Promise<void> {
    const rows = this.toRows(meta, chunks);
    await this.write(async () => {
      const filter = documentFilter(meta.tenantId, meta.source, meta.docId);
      await this.table.delete(filter);
      await this.vectors.deleteWhere(filter);
      if (rows.length > 0) await this.table.add(rows);
      this.writesSinceOptimize++;
    });
  }

  /** Adds many documents' chunks in one write (first ingest of a folder). Existing rows are not touched. */
  async addRows(batch: { meta: DocumentMeta; chunks: ChunkDraft[] }[]): Promise<void> {
    const rows = batch.flatMap(({ meta, chunks }) => this.toRows(meta, chunks));
    if (rows.length === 0) return;
    await this.write(async () => {
      await this.table.add(rows);
      this.writesSinceOptimize++;
    });
  }

  private toRows(meta: DocumentMeta, chunks: ChunkDraft[]): Record<string, unknown>[] {
    const acl = [...new Set(meta.acl.map((p) => p.toLowerCase()))];
    return chunks.map((c) => ({
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
    }));
  }

  /**
   * Every chunk of a tenant that has no vector in the vector table `space` (id, title, headings,
   * text and its {@link chunkFingerprint}), and the ids of vectors there whose chunk is gone.
   */
  async vectorGaps(
    space: string,
    tenantId: string,
  ): Promise<{ missing: string[]; orphans: string[]; chunks: number }> {
    const [chunkIds, vectorIds] = await Promise.all([
      this.table.query().where(eq("tenant_id", tenantId)).select(["id"]).toArray(),
      this.vectors.ids(space, tenantId),
    ]);
    const ids = new Set(chunkIds.map((r) => String(r.id)));
    return {
      missing: [...ids].filter((id) => !vectorIds.has(id)),
      orphans: [...vectorIds].filter((id) => !ids.has(id)),
      chunks: ids.size,
    };
  }

  /** The text to embed of the given chunks (those that still exist), with their fingerprint. */
  async chunkTexts(
    ids: string[],
  ): Promise<{ id: string; title: string; headings: string; text: string; hash: string }[]> {
    if (ids.length === 0) return [];
    const rows = await this.table
      .query()
      .where(`id IN (${ids.map(sqlString).join(", ")})`)
      .select(["id", "title", "headings", "text"])
      .toArray();
    return rows.map((r) => {
      const title = String(r.title);
      const headings = String(r.headings);
      const text = String(r.text);
      return { id: String(r.id), title, headings, text, hash: chunkFingerprint(title, headings, text) };
    });
  }

  /**
   * Stores vectors of one space for existing chunks, in the write queue: a vector is kept only
   * when its chunk still exists with the fingerprint it was embedded from (a document changed or
   * deleted meanwhile gets no stale vector), with the chunk's tenant, source, document, ACL and
   * date copied for prefiltering. @returns how many were stored.
   * @throws Error when a vector's length differs from `dims`.
   */
  async putVectors(
    space: { table: string; model: string; dims: number },
    items: { id: string; hash: string; vector: number[] }[],
  ): Promise<number> {
    if (items.length === 0) return 0;
    for (const i of items) {
      if (i.vector.length !== space.dims) {
        throw new Error(`embedding has ${i.vector.length} dimensions, the table expects ${space.dims}`);
      }
    }
    return this.write(async () => {
      const current = await this.chunkRows(items.map((i) => i.id));
      const rows = [];
      for (const item of items) {
        const c = current.get(item.id);
        if (!c || c.hash !== item.hash) continue;
        rows.push({ ...c, vector: item.vector });
      }
      await this.vectors.upsert(space.table, space.model, space.dims, rows);
      return rows.length;
    });
  }

  private async chunkRows(ids: string[]) {
    const rows = await this.table
      .query()
      .where(`id IN (${ids.map(sqlString).join(", ")})`)
      .select(["id", "tenant_id", "source", "doc_id", "acl", "modified_at", "title", "headings", "text"])
      .toArray();
    return new Map(
      rows.map((r) => [
        String(r.id),
        {
          id: String(r.id),
          tenant_id: String(r.tenant_id),
          source: String(r.source),
          doc_id: String(r.doc_id),
          acl: Array.from(r.acl as Iterable<string>),
          modified_at: Number(r.modified_at),
          hash: chunkFingerprint(String(r.title), String(r.headings), String(r.text)),
        },
      ]),
    );
  }

  /**
   * Compacts one vector table after a round wrote to it (each batch adds a fragment; a vector
   * search reads them all), in the write queue.
   */
  async compactVectors(space: string): Promise<void> {
    await this.write(() => this.vectors.optimize(new Date(Date.now() - 60_000), space));
  }

  /** Deletes a tenant's vectors from one vector table (another space took over), or only `ids`. */
  async deleteVectors(space: string, tenantId: string, ids?: string[]): Promise<void> {
    await this.write(async () => {
      if (!ids) return this.vectors.deleteWhere(eq("tenant_id", tenantId), space);
      for (let i = 0; i < ids.length; i += 200) {
        const list = ids
          .slice(i, i + 200)
          .map(sqlString)
          .join(", ");
        await this.vectors.deleteWhere(`${eq("tenant_id", tenantId)} AND id IN (${list})`, space);
      }
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
        const filter = `${eq("tenant_id", tenantId)} AND ${eq("source", source)} AND doc_id IN (${ids})`;
        await this.table.delete(filter);
        await this.vectors.deleteWhere(filter);
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
      const where = documentFilter(tenantId, source, docId);
      const aclSql = `[${list.map(sqlString).join(", ")}]`;
      await this.table.update({ where, valuesSql: { acl: aclSql } });
      await this.vectors.updateAcl(where, aclSql);
      this.writesSinceOptimize++;
    });
  }

  /** Deletes every chunk of a tenant (uninstall), optionally of one source only. */
  async deleteTenant(tenantId: string, source?: string): Promise<void> {
    await this.write(async () => {
      const filter = source
        ? `${eq("tenant_id", tenantId)} AND ${eq("source", source)}`
        : eq("tenant_id", tenantId);
      await this.table.delete(filter);
      await this.vectors.deleteWhere(filter);
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
      let missing = ["fts", "tenant_id", "acl", "id"].filter((c) => !this.indexed.has(c));
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
      // Vector hits are read back by chunk id.
      if (missing.includes("id")) {
        await this.table.createIndex("id", { config: lancedb.Index.btree(), replace: true });
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
      await this.vectors.optimize(new Date(Date.now() - keepVersionsMs));
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
    await this.vectors.close();
    this.table.close();
    this.conn.close();
  }
}

/** Name of the table holding a copy of every chunk while the chunks table is rebuilt. */
export const REBUILD_TABLE = "chunks_rebuild";

/** Every chunk of `table` as plain rows, without the vector column. */
async function readChunksWithoutVector(table: lancedb.Table): Promise<Record<string, unknown>[]> {
  const keep = chunkSchema().fields.map((f) => f.name);
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
