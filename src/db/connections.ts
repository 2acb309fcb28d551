import { randomUUID } from "node:crypto";
import type { Db, Queryable } from "./types.ts";

/** Lifecycle of a connection: `active`, or `broken` (its grant was revoked; re-connect to fix). */
export type ConnectionStatus = "active" | "broken";

/**
 * One person's connection to a document store (migration 007). Tokens stay sealed here: they are
 * opened only by the token manager of the provider.
 */
export interface Connection {
  id: string;
  tenantId: string;
  /** `google` (Drive) today; `microsoft` (OneDrive) next. */
  provider: string;
  /** Chat identity of the person who connected (where reports go). */
  ownerPlatform: string;
  ownerUserId: string;
  ownerEmail: string | null;
  /** The account at the provider (e-mail of the Google account). */
  accountEmail: string | null;
  tokensSealed: string;
  /** Bumped by every token write, so a waiter can tell that someone else refreshed. */
  tokenVersion: number;
  /** Where the change feed continues; null before the first complete listing. */
  cursor: string | null;
  status: ConnectionStatus;
  brokenReason: string | null;
  firstSyncDoneAt: Date | null;
  lastSyncAt: Date | null;
  lastSyncStatus: string | null;
  lastError: string | null;
  documents: number;
  /** Problems that did not stop indexing, from the last sync that had any (a permission without e-mail). */
  notes: { path: string; reason: string }[];
  createdAt: Date;
}

/** A file a source lists but Atom did not index, with the reason. */
export interface SkippedFile {
  docId: string;
  name: string;
  uri: string;
  version: string;
  reason: string;
  /** Not retried until the file changes (a new version). */
  permanent: boolean;
  /** The source entry, kept for a passing failure so the next sync retries it. */
  entry?: unknown;
}

interface ConnectionRow {
  id: string;
  tenant_id: string;
  provider: string;
  owner_platform: string;
  owner_user_id: string;
  owner_email: string | null;
  account_email: string | null;
  tokens_sealed: string;
  token_version: number;
  cursor: string | null;
  status: ConnectionStatus;
  broken_reason: string | null;
  first_sync_done_at: Date | string | null;
  last_sync_at: Date | string | null;
  last_sync_status: string | null;
  last_error: string | null;
  documents: number;
  notes: { path: string; reason: string }[] | string | null;
  created_at: Date | string;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toConnection(r: ConnectionRow): Connection {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    provider: r.provider,
    ownerPlatform: r.owner_platform,
    ownerUserId: r.owner_user_id,
    ownerEmail: r.owner_email,
    accountEmail: r.account_email,
    tokensSealed: r.tokens_sealed,
    tokenVersion: Number(r.token_version),
    cursor: r.cursor,
    status: r.status,
    brokenReason: r.broken_reason,
    firstSyncDoneAt: date(r.first_sync_done_at),
    lastSyncAt: date(r.last_sync_at),
    lastSyncStatus: r.last_sync_status,
    lastError: r.last_error,
    documents: Number(r.documents),
    notes: (typeof r.notes === "string" ? JSON.parse(r.notes) : r.notes) ?? [],
    createdAt: new Date(r.created_at),
  };
}

const COLUMNS = `id, tenant_id, provider, owner_platform, owner_user_id, owner_email, account_email,
  tokens_sealed, token_version, cursor, status, broken_reason, first_sync_done_at, last_sync_at,
  last_sync_status, last_error, documents, notes, created_at`;

/** Longest error text kept on a row. */
const MAX_ERROR = 1000;

/**
 * Repository of `connections`, `connect_links` and `skipped_files`: the only SQL of the
 * connections framework. Works the same on PostgreSQL and PGlite.
 */
export class ConnectionStore {
  constructor(readonly db: Db) {}

  /**
   * Creates the connection of `(tenant, provider, owner)` or, when it exists (the person connected
   * again), replaces its account and tokens and makes it active again. The cursor is kept when the
   * account is the same, and cleared when another account was connected (a new full listing).
   * @returns the stored connection and whether it was new.
   */
  async upsert(input: {
    tenantId: string;
    provider: string;
    ownerPlatform: string;
    ownerUserId: string;
    ownerEmail?: string;
    accountEmail?: string;
    tokensSealed: (id: string) => string;
  }): Promise<{ connection: Connection; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const existing = await tx.query<ConnectionRow>(
        `SELECT ${COLUMNS} FROM connections WHERE tenant_id = $1 AND provider = $2 AND owner_platform = $3
         AND owner_user_id = $4 FOR UPDATE`,
        [input.tenantId, input.provider, input.ownerPlatform, input.ownerUserId],
      );
      const prev = existing.rows[0];
      const id = prev?.id ?? randomUUID();
      const sealed = input.tokensSealed(id);
      if (prev) {
        const sameAccount = (prev.account_email ?? "") === (input.accountEmail ?? "");
        const r = await tx.query<ConnectionRow>(
          `UPDATE connections SET tokens_sealed = $2, token_version = token_version + 1, account_email = $3,
             owner_email = COALESCE($4, owner_email), status = 'active', broken_reason = NULL,
             broken_notified_at = NULL, refreshing_until = NULL,
             cursor = CASE WHEN $5::boolean THEN cursor ELSE NULL END, updated_at = now()
           WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, sealed, input.accountEmail ?? null, input.ownerEmail ?? null, sameAccount],
        );
        return { connection: toConnection(r.rows[0]!), created: false };
      }
      const r = await tx.query<ConnectionRow>(
        `INSERT INTO connections (id, tenant_id, provider, owner_platform, owner_user_id, owner_email,
           account_email, tokens_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [
          id,
          input.tenantId,
          input.provider,
          input.ownerPlatform,
          input.ownerUserId,
          input.ownerEmail ?? null,
          input.accountEmail ?? null,
          sealed,
        ],
      );
      return { connection: toConnection(r.rows[0]!), created: true };
    });
  }

  /** One connection by id, or undefined. */
  async get(id: string): Promise<Connection | undefined> {
    const r = await this.db.query<ConnectionRow>(`SELECT ${COLUMNS} FROM connections WHERE id = $1`, [id]);
    return r.rows[0] ? toConnection(r.rows[0]) : undefined;
  }

  /** Connections of a tenant (optionally of one provider and/or one owner), oldest first. */
  async list(
    filter: { tenantId?: string; provider?: string; ownerPlatform?: string; ownerUserId?: string } = {},
  ): Promise<Connection[]> {
    const r = await this.db.query<ConnectionRow>(
      `SELECT ${COLUMNS} FROM connections
       WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR provider = $2)
         AND ($3::text IS NULL OR owner_platform = $3) AND ($4::text IS NULL OR owner_user_id = $4)
       ORDER BY created_at, id`,
      [
        filter.tenantId ?? null,
        filter.provider ?? null,
        filter.ownerPlatform ?? null,
        filter.ownerUserId ?? null,
      ],
    );
    return r.rows.map(toConnection);
  }

  /** Deletes a connection and its skipped-file records. @returns false when it did not exist. */
  async delete(id: string, sourceId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const r = await tx.query<ConnectionRow>("DELETE FROM connections WHERE id = $1 RETURNING tenant_id", [
        id,
      ]);
      const tenantId = r.rows[0]?.tenant_id;
      if (!tenantId) return false;
      await tx.query("DELETE FROM skipped_files WHERE tenant_id = $1 AND source_id = $2", [
        tenantId,
        sourceId,
      ]);
      await tx.query("DELETE FROM drive_items WHERE tenant_id = $1 AND source_id = $2", [tenantId, sourceId]);
      await tx.query("DELETE FROM connection_sites WHERE connection_id = $1", [id]);
      return true;
    });
  }

  /**
   * Stores the change-feed cursor after the data it covers was written.
   * @returns false when the connection is gone (disconnected during the sync).
   */
  async commitCursor(id: string, cursor: string): Promise<boolean> {
    const r = await this.db.query(
      "UPDATE connections SET cursor = $2, updated_at = now() WHERE id = $1 RETURNING id",
      [id, cursor],
    );
    return r.rowCount > 0;
  }

  /** Forgets the cursor (the next sync lists everything again). */
  async clearCursor(id: string): Promise<void> {
    await this.db.query("UPDATE connections SET cursor = NULL, updated_at = now() WHERE id = $1", [id]);
  }

  /** Records the outcome of a sync: time, status, error (or none) and the document count. */
  async recordSync(
    id: string,
    outcome: {
      status: string;
      error: string | null;
      documents: number;
      firstSyncDone?: boolean;
      /** Replace the kept notes when this sync had any (at most 50 are kept). */
      notes?: { path: string; reason: string }[];
    },
  ): Promise<void> {
    const notes =
      outcome.notes && outcome.notes.length > 0 ? JSON.stringify(outcome.notes.slice(0, 50)) : null;
    await this.db.query(
      `UPDATE connections SET last_sync_at = now(), last_sync_status = $2, last_error = $3, documents = $4,
         first_sync_done_at = CASE WHEN $5::boolean THEN COALESCE(first_sync_done_at, now()) ELSE first_sync_done_at END,
         notes = COALESCE($6::jsonb, notes), updated_at = now()
       WHERE id = $1`,
      [
        id,
        outcome.status,
        outcome.error?.slice(0, MAX_ERROR) ?? null,
        outcome.documents,
        outcome.firstSyncDone ?? false,
        notes,
      ],
    );
  }

  /**
   * Marks a connection broken (its grant was revoked).
   * @returns true only for the call that changed it from active to broken and should tell the
   *   owner (so the owner is told once, whatever the number of syncs or replicas that noticed).
   */
  async markBroken(id: string, reason: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE connections SET status = 'broken', broken_reason = $2, last_sync_status = 'broken',
         last_error = $2, broken_notified_at = now(), updated_at = now()
       WHERE id = $1 AND broken_notified_at IS NULL RETURNING id`,
      [id, reason.slice(0, MAX_ERROR)],
    );
    if (r.rowCount === 0) {
      await this.db.query("UPDATE connections SET status = 'broken' WHERE id = $1", [id]);
      return false;
    }
    return true;
  }

  // --- tokens: one refresh at a time per connection, across processes ---

  /**
   * Takes the refresh lease of a connection for `leaseMs` unless another process holds it.
   * @returns the token version at the time of the claim, or undefined when someone else refreshes.
   */
  async claimRefresh(id: string, leaseMs: number): Promise<number | undefined> {
    const r = await this.db.query<{ token_version: number }>(
      `UPDATE connections SET refreshing_until = now() + ($2::double precision * interval '1 millisecond')
       WHERE id = $1 AND (refreshing_until IS NULL OR refreshing_until < now()) RETURNING token_version`,
      [id, leaseMs],
    );
    return r.rows[0] ? Number(r.rows[0].token_version) : undefined;
  }

  /** Stores refreshed tokens and releases the refresh lease. */
  async storeTokens(id: string, tokensSealed: string, tx: Queryable = this.db): Promise<void> {
    await tx.query(
      `UPDATE connections SET tokens_sealed = $2, token_version = token_version + 1, refreshing_until = NULL,
         updated_at = now() WHERE id = $1`,
      [id, tokensSealed],
    );
  }

  /** Releases the refresh lease without new tokens (the refresh failed). */
  async releaseRefresh(id: string): Promise<void> {
    await this.db.query("UPDATE connections SET refreshing_until = NULL WHERE id = $1", [id]);
  }

  /** The sealed tokens and their version, for a token manager re-reading after someone else refreshed. */
  async tokens(id: string): Promise<{ tokensSealed: string; tokenVersion: number } | undefined> {
    const r = await this.db.query<{ tokens_sealed: string; token_version: number }>(
      "SELECT tokens_sealed, token_version FROM connections WHERE id = $1",
      [id],
    );
    const row = r.rows[0];
    return row ? { tokensSealed: row.tokens_sealed, tokenVersion: Number(row.token_version) } : undefined;
  }

  // --- sign-in links ---

  /** Stores a sign-in link (by the hash of its id) valid for `ttlMs`. */
  async createLink(input: {
    linkHash: string;
    provider: string;
    tenantId: string;
    data: Record<string, unknown>;
    ttlMs: number;
  }): Promise<void> {
    await this.db.query("DELETE FROM connect_links WHERE expires_at < now() - interval '1 day'");
    await this.db.query(
      `INSERT INTO connect_links (link_hash, provider, tenant_id, data, expires_at)
       VALUES ($1, $2, $3, $4::jsonb, now() + ($5::double precision * interval '1 millisecond'))`,
      [input.linkHash, input.provider, input.tenantId, JSON.stringify(input.data), input.ttlMs],
    );
  }

  /**
   * Uses a sign-in link once: marks it used and returns its data, or says why it cannot be used.
   */
  async useLink(
    linkHash: string,
    provider: string,
  ): Promise<
    | { ok: true; tenantId: string; data: Record<string, unknown> }
    | { ok: false; reason: "unknown" | "used" | "expired" }
  > {
    const r = await this.db.query<{ tenant_id: string; data: Record<string, unknown> }>(
      `UPDATE connect_links SET used_at = now()
       WHERE link_hash = $1 AND provider = $2 AND used_at IS NULL AND expires_at >= now()
       RETURNING tenant_id, data`,
      [linkHash, provider],
    );
    const row = r.rows[0];
    if (row) return { ok: true, tenantId: row.tenant_id, data: row.data ?? {} };
    const why = await this.db.query<{ used: boolean }>(
      "SELECT used_at IS NOT NULL AS used FROM connect_links WHERE link_hash = $1 AND provider = $2",
      [linkHash, provider],
    );
    const known = why.rows[0];
    return { ok: false, reason: !known ? "unknown" : known.used ? "used" : "expired" };
  }

  // --- skipped files ---

  /** Records (or updates) skipped files of a source. */
  async recordSkips(tenantId: string, sourceId: string, skips: SkippedFile[]): Promise<void> {
    if (skips.length === 0) return;
    await this.db.query(
      `INSERT INTO skipped_files (tenant_id, source_id, doc_id, name, uri, version, reason, permanent, entry)
       SELECT $1, $2, s.doc_id, s.name, s.uri, s.version, s.reason, s.permanent, s.entry::jsonb
       FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::text[])
         AS s(doc_id, name, uri, version, reason, permanent, entry)
       ON CONFLICT (tenant_id, source_id, doc_id) DO UPDATE SET name = EXCLUDED.name, uri = EXCLUDED.uri,
         version = EXCLUDED.version, reason = EXCLUDED.reason, permanent = EXCLUDED.permanent,
         entry = EXCLUDED.entry, skipped_at = now()`,
      [
        tenantId,
        sourceId,
        skips.map((s) => s.docId),
        skips.map((s) => s.name),
        skips.map((s) => s.uri),
        skips.map((s) => s.version),
        skips.map((s) => s.reason),
        skips.map((s) => s.permanent),
        skips.map((s) => (s.permanent || s.entry === undefined ? null : JSON.stringify(s.entry))),
      ],
    );
  }

  /** Forgets skips of documents that were indexed or removed since. */
  async clearSkips(tenantId: string, sourceId: string, docIds: string[]): Promise<void> {
    if (docIds.length === 0) return;
    await this.db.query(
      "DELETE FROM skipped_files WHERE tenant_id = $1 AND source_id = $2 AND doc_id = ANY($3::text[])",
      [tenantId, sourceId, docIds],
    );
  }

  /** Skipped files of a source, newest first (at most `limit`), and how many there are. */
  async skips(
    tenantId: string,
    sourceId: string,
    limit = 50,
  ): Promise<{ total: number; files: SkippedFile[] }> {
    const r = await this.db.query<{
      doc_id: string;
      name: string;
      uri: string;
      version: string;
      reason: string;
      permanent: boolean;
      total: number;
    }>(
      `SELECT doc_id, name, uri, version, reason, permanent, count(*) OVER ()::int AS total
       FROM skipped_files WHERE tenant_id = $1 AND source_id = $2 ORDER BY skipped_at DESC, doc_id LIMIT $3`,
      [tenantId, sourceId, limit],
    );
    return {
      total: Number(r.rows[0]?.total ?? 0),
      files: r.rows.map((x) => ({
        docId: x.doc_id,
        name: x.name,
        uri: x.uri,
        version: x.version,
        reason: x.reason,
        permanent: x.permanent,
      })),
    };
  }

  /** Source entries of passing failures of a source (retried at the next sync). */
  async retryable(tenantId: string, sourceId: string, limit = 500): Promise<unknown[]> {
    const r = await this.db.query<{ entry: unknown }>(
      `SELECT entry FROM skipped_files WHERE tenant_id = $1 AND source_id = $2 AND NOT permanent
         AND entry IS NOT NULL ORDER BY skipped_at LIMIT $3`,
      [tenantId, sourceId, limit],
    );
    return r.rows.map((x) => (typeof x.entry === "string" ? JSON.parse(x.entry) : x.entry));
  }

  /** Permanent skips of a source keyed by document id → skipped version. */
  async permanentSkips(tenantId: string, sourceId: string, docIds: string[]): Promise<Map<string, string>> {
    if (docIds.length === 0) return new Map();
    const r = await this.db.query<{ doc_id: string; version: string }>(
      `SELECT doc_id, version FROM skipped_files
       WHERE tenant_id = $1 AND source_id = $2 AND permanent AND doc_id = ANY($3::text[])`,
      [tenantId, sourceId, docIds],
    );
    return new Map(r.rows.map((x) => [x.doc_id, x.version]));
  }
}
