import type { Db } from "./types.ts";

/**
 * One embedding space: a model at one API root, with its vector length and the LanceDB table that
 * holds its vectors. Two spaces are the same only when all four agree.
 */
export interface EmbeddingSpace {
  model: string;
  dims: number;
  /** API root the model is called at ('' = the provider's default). */
  baseUrl: string;
  /** LanceDB table of its vectors (memory/vectors.ts `vectorTableName`). */
  table: string;
}

/** A tenant's embedding state (migration 012). */
export interface EmbeddingState {
  tenantId: string;
  /** The space searches use; undefined = full-text search only. */
  active?: EmbeddingSpace;
  activeSince?: Date;
  /** The space being filled in the background (a model, key or base URL change). */
  building?: EmbeddingSpace;
  buildingSince?: Date;
  lastError: string | null;
}

/** Whether two spaces are the same (model, dimension, API root and table). */
export function sameSpace(a: EmbeddingSpace | undefined, b: EmbeddingSpace | undefined): boolean {
  if (!a || !b) return a === b;
  return a.model === b.model && a.dims === b.dims && a.baseUrl === b.baseUrl && a.table === b.table;
}

interface Record_ {
  tenant_id: string;
  active_model: string | null;
  active_dims: number | null;
  active_base_url: string;
  active_table: string | null;
  active_since: Date | string | null;
  building_model: string | null;
  building_dims: number | null;
  building_base_url: string;
  building_table: string | null;
  building_since: Date | string | null;
  last_error: string | null;
}

function space(
  model: string | null,
  dims: number | null,
  baseUrl: string,
  table: string | null,
): EmbeddingSpace | undefined {
  return model && dims && table ? { model, dims: Number(dims), baseUrl, table } : undefined;
}

const date = (v: Date | string | null) => (v === null ? undefined : new Date(v));

/** Repository of `embedding_spaces`: the only SQL of per-tenant embedding state. */
export class EmbeddingSpaceStore {
  constructor(private readonly db: Db) {}

  /** The state of a tenant (no row: no space active or building). */
  async get(tenantId: string): Promise<EmbeddingState> {
    const r = await this.db.query<Record_>("SELECT * FROM embedding_spaces WHERE tenant_id = $1", [tenantId]);
    const row = r.rows[0];
    if (!row) return { tenantId, lastError: null };
    return {
      tenantId,
      active: space(row.active_model, row.active_dims, row.active_base_url, row.active_table),
      activeSince: date(row.active_since),
      building: space(row.building_model, row.building_dims, row.building_base_url, row.building_table),
      buildingSince: date(row.building_since),
      lastError: row.last_error,
    };
  }

  /** Tenants that have a row (a space active or building). */
  async tenants(): Promise<string[]> {
    const r = await this.db.query<{ tenant_id: string }>(
      "SELECT tenant_id FROM embedding_spaces WHERE active_table IS NOT NULL OR building_table IS NOT NULL",
    );
    return r.rows.map((x) => x.tenant_id);
  }

  /** Starts filling `building` (replacing any other space being built); the active one stays. */
  async startBuilding(tenantId: string, building: EmbeddingSpace): Promise<void> {
    await this.db.query(
      `INSERT INTO embedding_spaces (tenant_id, building_model, building_dims, building_base_url, building_table, building_since)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (tenant_id) DO UPDATE SET building_model = EXCLUDED.building_model,
         building_dims = EXCLUDED.building_dims, building_base_url = EXCLUDED.building_base_url,
         building_table = EXCLUDED.building_table, building_since = now(), updated_at = now()`,
      [tenantId, building.model, building.dims, building.baseUrl, building.table],
    );
  }

  /**
   * Makes the space being built the active one, in one statement (searches switch atomically),
   * only while it is still the one being built (a later change wins).
   * @returns whether the switch happened.
   */
  async activate(tenantId: string, built: EmbeddingSpace): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE embedding_spaces SET active_model = building_model, active_dims = building_dims,
         active_base_url = building_base_url, active_table = building_table, active_since = now(),
         building_model = NULL, building_dims = NULL, building_base_url = '', building_table = NULL,
         building_since = NULL, last_error = NULL, updated_at = now()
       WHERE tenant_id = $1 AND building_model = $2 AND building_dims = $3 AND building_base_url = $4
         AND building_table = $5`,
      [tenantId, built.model, built.dims, built.baseUrl, built.table],
    );
    return r.rowCount > 0;
  }

  /** Forgets both spaces (no key any more: full-text search only). */
  async clear(tenantId: string): Promise<void> {
    await this.db.query("DELETE FROM embedding_spaces WHERE tenant_id = $1", [tenantId]);
  }

  /** Stops building (the wanted space is the active one again). */
  async stopBuilding(tenantId: string): Promise<void> {
    await this.db.query(
      `UPDATE embedding_spaces SET building_model = NULL, building_dims = NULL, building_base_url = '',
         building_table = NULL, building_since = NULL, updated_at = now() WHERE tenant_id = $1`,
      [tenantId],
    );
  }

  /** Records (or clears with null) why the last embedding round stopped. */
  async setError(tenantId: string, error: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO embedding_spaces (tenant_id, last_error) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET last_error = EXCLUDED.last_error, updated_at = now()`,
      [tenantId, error?.slice(0, 500) ?? null],
    );
  }
}
