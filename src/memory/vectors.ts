import { createHash } from "node:crypto";
import type * as lancedb from "@lancedb/lancedb";
import { Field, FixedSizeList, Float32, Float64, List, Schema, Utf8 } from "apache-arrow";
import { EmbeddingError, embeddingText } from "./embed.ts";
import { eq } from "./store.ts";

/** Prefix of every LanceDB table holding one embedding space's vectors. */
export const VECTOR_TABLE_PREFIX = "vectors_";

/** Schema metadata keys recording the model and dimension of a vector table. */
export const VECTOR_MODEL_KEY = "atom.embedding.model";
export const VECTOR_DIMS_KEY = "atom.embedding.dims";

/**
 * The table of one embedding space: `vectors_<dims>_<16 hex of sha256(API root, model)>` — one
 * table per model, API root and dimension, so vectors of different models never share a column
 * and a table's vector length never changes. Any tenant using that space has its rows there.
 */
export function vectorTableName(model: string, dims: number, baseUrl: string): string {
  if (!Number.isInteger(dims) || dims <= 0) throw new Error(`invalid embedding dimension ${dims}`);
  const h = createHash("sha256").update(`${baseUrl}\u0000${model}`).digest("hex").slice(0, 16);
  return `${VECTOR_TABLE_PREFIX}${dims}_${h}`;
}

/**
 * Fingerprint of what is embedded for a chunk (title, heading path, text): a vector is stored only
 * while its chunk still has this fingerprint, so a document changed during embedding never gets
 * the old text's vector.
 */
export function chunkFingerprint(title: string, headings: string, text: string): string {
  return createHash("sha256")
    .update(embeddingText(title, headings ? headings.split(" > ") : [], text))
    .digest("base64url")
    .slice(0, 22);
}

/** One stored vector with the filter columns copied from its chunk. */
export type VectorRow = {
  /** The chunk's id (`<tenant>/<source>/<doc>#<index>`). */
  id: string;
  tenant_id: string;
  source: string;
  doc_id: string;
  acl: string[];
  modified_at: number;
  /** {@link chunkFingerprint} of the chunk when it was embedded. */
  hash: string;
  vector: number[];
};

function vectorSchema(dims: number, model: string): Schema {
  return new Schema(
    [
      new Field("id", new Utf8(), false),
      new Field("tenant_id", new Utf8(), false),
      new Field("source", new Utf8(), false),
      new Field("doc_id", new Utf8(), false),
      new Field("acl", new List(new Field("item", new Utf8(), true)), false),
      new Field("modified_at", new Float64(), false),
      new Field("hash", new Utf8(), false),
      new Field("vector", new FixedSizeList(dims, new Field("item", new Float32(), true)), false),
    ],
    new Map([
      [VECTOR_MODEL_KEY, model],
      [VECTOR_DIMS_KEY, String(dims)],
    ]),
  );
}

/**
 * The vector side of memory: one LanceDB table per embedding space, rows keyed by chunk id and
 * carrying the chunk's tenant, source, document, ACL and date so vector search is prefiltered like
 * full-text search. Writes are done by {@link ChunkStore} inside its write queue (chunks and
 * vectors change together); this class only reads and applies them.
 */
export class VectorTables {
  private readonly tables = new Map<string, Promise<lancedb.Table>>();

  constructor(private readonly conn: lancedb.Connection) {}

  /** Names of every vector table in the database. */
  async names(): Promise<string[]> {
    return (await this.conn.tableNames()).filter((n) => n.startsWith(VECTOR_TABLE_PREFIX));
  }

  /** Opens a vector table, creating it (empty, for `dims`) when `create` gives its model. */
  async table(name: string, create?: { dims: number; model: string }): Promise<lancedb.Table | undefined> {
    let t = this.tables.get(name);
    if (!t) {
      if (!(await this.conn.tableNames()).includes(name)) {
        if (!create) return undefined;
        t = this.conn.createEmptyTable(name, vectorSchema(create.dims, create.model), { existOk: true });
      } else t = this.conn.openTable(name);
      this.tables.set(name, t);
      t.catch(() => this.tables.delete(name));
    }
    return t;
  }

  /** The dimension a vector table was created for. */
  async dims(name: string): Promise<number | undefined> {
    const t = await this.table(name);
    if (!t) return undefined;
    const f = (await t.schema()).fields.find((x) => x.name === "vector");
    return f ? (f.type as FixedSizeList).listSize : undefined;
  }

  /** Chunk ids that have a vector in `name` for one tenant. */
  async ids(name: string, tenantId: string): Promise<Set<string>> {
    const t = await this.table(name);
    if (!t) return new Set();
    const rows = await t.query().where(eq("tenant_id", tenantId)).select(["id"]).toArray();
    return new Set(rows.map((r) => String(r.id)));
  }

  /** Vectors of one tenant in `name`. */
  async count(name: string, tenantId: string): Promise<number> {
    const t = await this.table(name);
    return t ? t.countRows(eq("tenant_id", tenantId)) : 0;
  }

  /**
   * The `limit` nearest rows to `vector` by cosine distance among those matching `filter` (a
   * prefilter on the copied tenant/ACL/source/date columns).
   * @throws EmbeddingError when the vector's length differs from the table's (never sent to LanceDB).
   */
  async nearest(
    name: string,
    vector: number[],
    filter: string,
    limit: number,
  ): Promise<{ id: string; distance: number }[]> {
    const t = await this.table(name);
    if (!t) return [];
    const dims = await this.dims(name);
    if (dims !== vector.length) {
      throw new EmbeddingError(`query vector has ${vector.length} dimensions, the table holds ${dims}`);
    }
    const rows = await t
      .vectorSearch(vector)
      .column("vector")
      .distanceType("cosine")
      .where(filter)
      .select(["id", "_distance"])
      .limit(limit)
      .toArray();
    return rows.map((r) => ({ id: String(r.id), distance: Number(r._distance) }));
  }

  /**
   * Adds or replaces rows of `name` by chunk id. Called inside the chunk store's write queue.
   * @throws Error when a vector's length differs from the table's.
   */
  async upsert(name: string, model: string, dims: number, rows: VectorRow[]): Promise<void> {
    if (rows.length === 0) return;
    for (const r of rows) {
      if (r.vector.length !== dims) {
        throw new Error(`embedding has ${r.vector.length} dimensions, the table expects ${dims}`);
      }
    }
    const t = (await this.table(name, { dims, model }))!;
    const have = await this.dims(name);
    if (have !== dims) throw new Error(`vector table ${name} holds ${have} dimensions, not ${dims}`);
    await t.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
  }

  /** Deletes the rows matching `filter` from every vector table (or from `only`). */
  async deleteWhere(filter: string, only?: string): Promise<void> {
    for (const name of only ? [only] : await this.names()) {
      const t = await this.table(name);
      if (t) await t.delete(filter);
    }
  }

  /** Sets the ACL of the rows matching `filter` in every vector table. */
  async updateAcl(filter: string, aclSql: string): Promise<void> {
    for (const name of await this.names()) {
      const t = await this.table(name);
      if (t) await t.update({ where: filter, valuesSql: { acl: aclSql } });
    }
  }

  /** Compacts every vector table (or only `only`) and drops old versions (scheduled maintenance). */
  async optimize(cleanupOlderThan: Date, only?: string): Promise<void> {
    for (const name of only ? [only] : await this.names()) {
      const t = await this.table(name);
      if (t) await t.optimize({ cleanupOlderThan });
    }
  }

  /** Closes the open tables. */
  async close(): Promise<void> {
    for (const t of this.tables.values()) (await t.catch(() => undefined))?.close();
    this.tables.clear();
  }
}
