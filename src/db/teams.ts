/**
 * Repository of Teams conversation references (`teams_conversations`, migrations 003 and 006) and
 * of the answers behind messages Atom sent (`teams_sent_messages`). References are stored by the
 * worker from every accepted activity of an allowed tenant, so replies after the turn and proactive
 * sends (after a restart, from any replica, with no new inbound message) know the `serviceUrl`,
 * conversation, bot and Teams tenant.
 */
import type { Db } from "./types.ts";

/**
 * A Bot Framework conversation reference as stored (the JSON botbuilder's
 * `TurnContext.getConversationReference` returns, without `activityId`).
 */
export interface TeamsReference {
  serviceUrl?: string;
  channelId?: string;
  locale?: string;
  bot?: { id: string; name?: string; [k: string]: unknown };
  user?: { id: string; name?: string; aadObjectId?: string; [k: string]: unknown };
  conversation?: { id: string; conversationType?: string; tenantId?: string; [k: string]: unknown };
  activityId?: string;
  [k: string]: unknown;
}

/** A stored reference with its Atom keys. */
export interface StoredReference {
  tenantId: string;
  /** Conversation id as Teams uses it (a channel thread keeps its `;messageid=` part). */
  conversationId: string;
  /** The Atom channel id (bare channel / chat id). */
  channelId: string;
  teamsTenantId: string | null;
  conversationType: string | null;
  /** The person of a personal chat (Entra object id, else Teams user id); null for other chats. */
  userId: string | null;
  reference: TeamsReference;
  active: boolean;
  inactiveReason: string | null;
}

interface Row {
  tenant_id: string;
  conversation_id: string;
  channel_id: string;
  teams_tenant_id: string | null;
  conversation_type: string | null;
  user_id: string | null;
  reference: TeamsReference | string;
  active: boolean;
  inactive_reason: string | null;
}

function fromRow(r: Row): StoredReference {
  return {
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    channelId: r.channel_id,
    teamsTenantId: r.teams_tenant_id,
    conversationType: r.conversation_type,
    userId: r.user_id,
    reference: typeof r.reference === "string" ? (JSON.parse(r.reference) as TeamsReference) : r.reference,
    active: r.active,
    inactiveReason: r.inactive_reason,
  };
}

/** Repository of Teams conversation references and sent answers. */
export class TeamsConversations {
  constructor(private readonly db: Db) {}

  /**
   * Inserts or refreshes a reference (re-activating it: a new authenticated activity proves the
   * bot can talk there again). `reference.activityId` is not stored (it names one message).
   * @throws Error when the reference has no serviceUrl.
   */
  async save(input: {
    tenantId: string;
    conversationId: string;
    channelId: string;
    teamsTenantId?: string;
    conversationType?: string;
    userId?: string;
    reference: TeamsReference;
  }): Promise<void> {
    const { activityId: _drop, ...reference } = input.reference;
    const serviceUrl = reference.serviceUrl;
    if (!serviceUrl) throw new Error("a conversation reference needs a serviceUrl");
    await this.db.query(
      `INSERT INTO teams_conversations
         (tenant_id, conversation_id, channel_id, teams_tenant_id, conversation_type, user_id, service_url, reference)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
       ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET
         channel_id = EXCLUDED.channel_id,
         teams_tenant_id = COALESCE(EXCLUDED.teams_tenant_id, teams_conversations.teams_tenant_id),
         conversation_type = COALESCE(EXCLUDED.conversation_type, teams_conversations.conversation_type),
         user_id = COALESCE(EXCLUDED.user_id, teams_conversations.user_id),
         service_url = EXCLUDED.service_url,
         reference = EXCLUDED.reference,
         active = true,
         inactive_reason = NULL,
         updated_at = now()`,
      [
        input.tenantId,
        input.conversationId,
        input.channelId,
        input.teamsTenantId ?? null,
        input.conversationType ?? null,
        input.userId ?? null,
        serviceUrl,
        JSON.stringify({
          ...reference,
          conversation: { ...reference.conversation, id: input.conversationId },
        }),
      ],
    );
  }

  /** The reference of one conversation (thread id with `;messageid=` or chat id), or null. */
  async get(tenantId: string, conversationId: string): Promise<StoredReference | null> {
    const r = await this.db.query<Row>(
      "SELECT * FROM teams_conversations WHERE tenant_id = $1 AND conversation_id = $2",
      [tenantId, conversationId],
    );
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /** The most recently used reference in a channel or chat (any thread), or null. */
  async latestInChannel(tenantId: string, channelId: string): Promise<StoredReference | null> {
    const r = await this.db.query<Row>(
      "SELECT * FROM teams_conversations WHERE tenant_id = $1 AND channel_id = $2 ORDER BY updated_at DESC LIMIT 1",
      [tenantId, channelId],
    );
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /** The most recent personal chat of a person (Entra object id or Teams user id), or null. */
  async personalChatOf(tenantId: string, userId: string): Promise<StoredReference | null> {
    const r = await this.db.query<Row>(
      `SELECT * FROM teams_conversations
       WHERE tenant_id = $1 AND conversation_type = 'personal' AND user_id = $2
       ORDER BY active DESC, updated_at DESC LIMIT 1`,
      [tenantId, userId],
    );
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /** Any active reference of a tenant (its serviceUrl and bot start new conversations), or null. */
  async anyActive(tenantId: string): Promise<StoredReference | null> {
    const r = await this.db.query<Row>(
      "SELECT * FROM teams_conversations WHERE tenant_id = $1 AND active ORDER BY updated_at DESC LIMIT 1",
      [tenantId],
    );
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /** Marks every reference of a conversation's channel inactive (bot removed, conversation gone). */
  async markInactive(tenantId: string, channelId: string, reason: string): Promise<void> {
    await this.db.query(
      "UPDATE teams_conversations SET active = false, inactive_reason = $3, updated_at = now() WHERE tenant_id = $1 AND channel_id = $2",
      [tenantId, channelId, reason],
    );
  }

  /** Reachable and inactive conversations of a tenant (for `status`). */
  async counts(tenantId: string): Promise<{ active: number; inactive: number }> {
    const r = await this.db.query<{ active: number; inactive: number }>(
      `SELECT count(*) FILTER (WHERE active)::int AS active, count(*) FILTER (WHERE NOT active)::int AS inactive
       FROM teams_conversations WHERE tenant_id = $1`,
      [tenantId],
    );
    const row = r.rows[0];
    return { active: Number(row?.active ?? 0), inactive: Number(row?.inactive ?? 0) };
  }

  /** Remembers which answer a sent message carries (Teams feedback names the message, not the answer). */
  async recordSentAnswer(
    tenantId: string,
    conversationId: string,
    activityId: string,
    answerId: string,
  ): Promise<void> {
    await this.db.query(
      `INSERT INTO teams_sent_messages (tenant_id, conversation_id, activity_id, answer_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING`,
      [tenantId, conversationId, activityId, answerId],
    );
  }

  /** The answer id of a message Atom sent, or null. */
  async answerOfMessage(
    tenantId: string,
    conversationId: string,
    activityId: string,
  ): Promise<string | null> {
    const r = await this.db.query<{ answer_id: string }>(
      "SELECT answer_id FROM teams_sent_messages WHERE tenant_id = $1 AND conversation_id = $2 AND activity_id = $3",
      [tenantId, conversationId, activityId],
    );
    return r.rows[0]?.answer_id ?? null;
  }
}
