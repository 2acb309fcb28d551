import { SOURCE_FILTERS } from "../bot/filters.ts";
/**
 * The smaller repositories of workflows: plans waiting for Confirm ({@link DraftStore}) and what
 * runs read ({@link RunInputs}: documents new or changed in memory, questions asked in a channel,
 * source ids by kind).
 */
import type { Db, Queryable } from "../db/types.ts";
import { parseDefinition, type WorkflowDefinition, type WorkflowOrigin } from "./definition.ts";
import { type Draft, d, json } from "./rows.ts";

/** Repository of `workflow_drafts`. */
export class DraftStore {
  constructor(private readonly db: Db) {}

  /** Stores a plan waiting for Confirm, valid for `ttlMs`. */
  async create(input: {
    id: string;
    origin: WorkflowOrigin;
    definition: WorkflowDefinition;
    workflowId?: string;
    ttlMs: number;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO workflow_drafts (id, tenant_id, workflow_id, owner_id, origin, definition, expires_at)
       VALUES ($1, $2, $3::bigint, $4, $5::jsonb, $6::jsonb, now() + ($7::double precision * interval '1 millisecond'))`,
      [
        input.id,
        input.origin.tenantId,
        input.workflowId ?? null,
        input.origin.ownerId,
        JSON.stringify(input.origin),
        JSON.stringify(input.definition),
        input.ttlMs,
      ],
    );
  }

  /** A draft by id within a tenant. */
  async get(tenantId: string, id: string): Promise<Draft | undefined> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT id, tenant_id, workflow_id::text AS workflow_id, owner_id, origin, definition, status, expires_at
       FROM workflow_drafts WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id],
    );
    const x = r.rows[0];
    if (!x) return undefined;
    return {
      id: String(x.id),
      tenantId: String(x.tenant_id),
      workflowId: (x.workflow_id as string | null) ?? null,
      ownerId: String(x.owner_id),
      origin: json<WorkflowOrigin>(x.origin),
      definition: parseDefinition(json(x.definition)),
      status: x.status as Draft["status"],
      expiresAt: d(x.expires_at),
    };
  }

  /**
   * Moves a pending, unexpired draft to `confirmed` or `cancelled` — once: a second press (or a
   * press on another replica) finds nothing to settle.
   * @returns whether this call settled it.
   */
  async settle(tx: Queryable, id: string, status: "confirmed" | "cancelled"): Promise<boolean> {
    const r = await tx.query(
      `UPDATE workflow_drafts SET status = $2 WHERE id = $1 AND status = 'pending' AND expires_at > now() RETURNING id`,
      [id, status],
    );
    return r.rowCount > 0;
  }

  /** Deletes drafts that expired a day ago or more. */
  async prune(): Promise<number> {
    const r = await this.db.query("DELETE FROM workflow_drafts WHERE expires_at < now() - interval '1 day'");
    return r.rowCount;
  }
}

/** What a run reads besides its definition. */
export class RunInputs {
  constructor(private readonly db: Db) {}

  /** Questions people asked Atom in a conversation since `since` (for the weekly summary). */
  async questionsAsked(
    ref: { tenantId: string; platform: string; channelId: string },
    since: Date,
    limit: number,
  ): Promise<{ text: string; at: Date }[]> {
    const r = await this.db.query<{ text: string; created_at: unknown }>(
      `SELECT text, created_at FROM thread_turns WHERE tenant_id = $1 AND platform = $2 AND channel_id = $3 AND role = 'user'
         AND created_at >= $4 ORDER BY id DESC LIMIT $5`,
      [ref.tenantId, ref.platform, ref.channelId, since, limit],
    );
    return r.rows.map((x) => ({ text: x.text, at: d(x.created_at) }));
  }

  /** Documents new or changed in memory since `since`, visible to `principals` (newest first). */
  async changedDocuments(
    tenantId: string,
    principals: string[],
    since: Date,
    limit: number,
    sourceIds?: string[],
  ): Promise<{ source: string; docId: string; title: string; uri: string; indexedAt: Date }[]> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT source_id, doc_id, title, uri, indexed_at FROM documents
       WHERE tenant_id = $1 AND indexed_at > $2 AND acl ?| $3::text[] AND ($5::text[] IS NULL OR source_id = ANY($5::text[]))
       ORDER BY indexed_at DESC, title LIMIT $4`,
      [tenantId, since, principals, limit, sourceIds ?? null],
    );
    return r.rows.map((x) => ({
      source: String(x.source_id),
      docId: String(x.doc_id),
      title: String(x.title),
      uri: String(x.uri),
      indexedAt: d(x.indexed_at),
    }));
  }

  /**
   * Source ids of a tenant selected by a source word of a workflow ("drive" → the tenant's
   * Google Drive sources only, "onedrive" → OneDrive, "notes" → notes), with the same names as
   * the `in:` search filters ({@link SOURCE_FILTERS}); another word matches source ids containing it.
   */
  async sourcesLike(tenantId: string, hint: string): Promise<string[]> {
    const kinds = SOURCE_FILTERS[hint.toLowerCase()];
    const r = kinds
      ? await this.db.query<{ source_id: string }>(
          "SELECT source_id FROM sources WHERE tenant_id = $1 AND kind = ANY($2::text[])",
          [tenantId, kinds],
        )
      : await this.db.query<{ source_id: string }>(
          `SELECT source_id FROM sources WHERE tenant_id = $1 AND source_id ILIKE '%' || $2 || '%'`,
          [tenantId, hint],
        );
    return r.rows.map((x) => x.source_id);
  }
}
