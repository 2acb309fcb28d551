import type { Db } from "./types.ts";

/** A document an answer cited, by its identity in memory. */
export interface CitedDocument {
  source: string;
  docId: string;
  title: string;
}

/** One private answer that its asker may share with the conversation (table `reply_shares`). */
export interface ShareRecord<R = unknown> {
  shareId: string;
  tenantId: string;
  platform: string;
  channelId: string;
  /** Who asked (only they may share it). */
  userId: string;
  /** The conversation is a 1:1 chat with Atom (the audience is the asker alone). */
  isDirect: boolean;
  /** The platform-neutral reply as it was shown privately. */
  reply: R;
  cited: CitedDocument[];
  sharedAt: Date | null;
}

interface Row {
  share_id: string;
  tenant_id: string;
  platform: string;
  channel_id: string;
  user_id: string;
  is_direct: boolean;
  reply: unknown;
  cited: unknown;
  shared_at: Date | string | null;
}

const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

function toRecord<R>(r: Row): ShareRecord<R> {
  return {
    shareId: r.share_id,
    tenantId: r.tenant_id,
    platform: r.platform,
    channelId: r.channel_id,
    userId: r.user_id,
    isDirect: r.is_direct,
    reply: json<R>(r.reply),
    cited: json<CitedDocument[]>(r.cited),
    sharedAt: r.shared_at ? new Date(r.shared_at) : null,
  };
}

/** Repository of `reply_shares` (migration 005): the only SQL of "Share in channel". */
export class ShareStore {
  constructor(private readonly db: Db) {}

  /** Stores a shareable answer (not shared yet). */
  async create(rec: Omit<ShareRecord, "sharedAt">): Promise<void> {
    await this.db.query(
      `INSERT INTO reply_shares (share_id, tenant_id, platform, channel_id, user_id, is_direct, reply, cited)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`,
      [
        rec.shareId,
        rec.tenantId,
        rec.platform,
        rec.channelId,
        rec.userId,
        rec.isDirect,
        JSON.stringify(rec.reply),
        JSON.stringify(rec.cited),
      ],
    );
  }

  /** The share `shareId` of `tenantId`, or undefined. */
  async get<R>(tenantId: string, shareId: string): Promise<ShareRecord<R> | undefined> {
    const r = await this.db.query<Row>("SELECT * FROM reply_shares WHERE share_id = $1 AND tenant_id = $2", [
      shareId,
      tenantId,
    ]);
    return r.rows[0] ? toRecord<R>(r.rows[0]) : undefined;
  }

  /**
   * Marks the share as shared, once: only the asker, only when it was not shared before (atomic
   * across replicas and double clicks). @returns whether this caller won.
   */
  async claim(tenantId: string, shareId: string, userId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE reply_shares SET shared_at = now()
       WHERE share_id = $1 AND tenant_id = $2 AND user_id = $3 AND shared_at IS NULL RETURNING share_id`,
      [shareId, tenantId, userId],
    );
    return r.rowCount > 0;
  }

  /** Undoes {@link claim} after the post failed, so the asker can try again. */
  async release(tenantId: string, shareId: string): Promise<void> {
    await this.db.query("UPDATE reply_shares SET shared_at = NULL WHERE share_id = $1 AND tenant_id = $2", [
      shareId,
      tenantId,
    ]);
  }
}
