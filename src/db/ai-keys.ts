import type { Db } from "./types.ts";

/** An AI provider whose key a workspace can bring. */
export type AiProvider = "openai" | "anthropic" | "deepgram";
/** Every provider, in display order. */
export const AI_PROVIDERS: readonly AiProvider[] = ["openai", "anthropic", "deepgram"];

/** One stored key row (migration 010). `keySealed` is only ever opened by the key vault. */
export interface AiKeyRow {
  tenantId: string;
  /** '' for the workspace key, `<platform>:<user id>` for a person's own key. */
  owner: string;
  provider: AiProvider;
  keySealed: string | null;
  keyLast4: string | null;
  baseUrl: string | null;
  setBy: string;
  setAt: Date;
  invalidAt: Date | null;
  invalidNotifiedAt: Date | null;
}

/** A tenant's model choices (migration 010, `ai_settings`). */
export interface AiSettingsRow {
  tenantId: string;
  answerProvider: AiProvider | null;
  answerModel: string | null;
  embeddingModel: string | null;
  /** The embedding model whose vectors are in use (differs from `embeddingModel` while re-embedding). */
  embeddingActiveModel: string | null;
  updatedBy: string | null;
  updatedAt: Date;
}

/** Usage of one provider in one month. */
export interface AiUsageRow {
  provider: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  audioSeconds: number;
}

interface KeyRecord {
  tenant_id: string;
  owner: string;
  provider: AiProvider;
  key_sealed: string | null;
  key_last4: string | null;
  base_url: string | null;
  set_by: string;
  set_at: Date | string;
  invalid_at: Date | string | null;
  invalid_notified_at: Date | string | null;
}

const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));
const toKey = (r: KeyRecord): AiKeyRow => ({
  tenantId: r.tenant_id,
  owner: r.owner,
  provider: r.provider,
  keySealed: r.key_sealed,
  keyLast4: r.key_last4,
  baseUrl: r.base_url,
  setBy: r.set_by,
  setAt: new Date(r.set_at),
  invalidAt: date(r.invalid_at),
  invalidNotifiedAt: date(r.invalid_notified_at),
});

/** The month key of `at` (UTC), e.g. `2026-12`. */
export function monthOf(at = new Date()): string {
  return at.toISOString().slice(0, 7);
}

/** Repository of `ai_keys`, `ai_settings` and `ai_usage` — the only SQL of the AI feature. */
export class AiKeyStore {
  constructor(readonly db: Db) {}

  /** Every key row of a tenant (workspace and people), or of every tenant when none is given. */
  async list(tenantId?: string): Promise<AiKeyRow[]> {
    const r = await this.db.query<KeyRecord>(
      `SELECT * FROM ai_keys ${tenantId === undefined ? "" : "WHERE tenant_id = $1"} ORDER BY tenant_id, owner, provider`,
      tenantId === undefined ? [] : [tenantId],
    );
    return r.rows.map(toKey);
  }

  /** One key row. */
  async get(tenantId: string, owner: string, provider: AiProvider): Promise<AiKeyRow | undefined> {
    const r = await this.db.query<KeyRecord>(
      "SELECT * FROM ai_keys WHERE tenant_id = $1 AND owner = $2 AND provider = $3",
      [tenantId, owner, provider],
    );
    return r.rows[0] ? toKey(r.rows[0]) : undefined;
  }

  /**
   * Sets (or replaces) the sealed key of a row, keeping its base URL; clears the invalid mark.
   * `keySealed: null` removes the key but keeps a base URL.
   */
  async putKey(input: {
    tenantId: string;
    owner: string;
    provider: AiProvider;
    keySealed: string | null;
    keyLast4: string | null;
    setBy: string;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO ai_keys (tenant_id, owner, provider, key_sealed, key_last4, set_by)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, owner, provider) DO UPDATE SET key_sealed = EXCLUDED.key_sealed,
         key_last4 = EXCLUDED.key_last4, set_by = EXCLUDED.set_by, set_at = now(),
         invalid_at = NULL, invalid_notified_at = NULL`,
      [input.tenantId, input.owner, input.provider, input.keySealed, input.keyLast4, input.setBy],
    );
    await this.prune();
  }

  /** Sets (or clears with null) the base URL of a row. */
  async putBaseUrl(input: {
    tenantId: string;
    owner: string;
    provider: AiProvider;
    baseUrl: string | null;
    setBy: string;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO ai_keys (tenant_id, owner, provider, base_url, set_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, owner, provider) DO UPDATE SET base_url = EXCLUDED.base_url,
         set_by = EXCLUDED.set_by, set_at = now(), invalid_at = NULL, invalid_notified_at = NULL`,
      [input.tenantId, input.owner, input.provider, input.baseUrl, input.setBy],
    );
    await this.prune();
  }

  /** Replaces the sealed value of a row only when it still holds `old` (key rotation). */
  async reseal(
    tenantId: string,
    owner: string,
    provider: AiProvider,
    old: string,
    sealed: string,
  ): Promise<boolean> {
    const r = await this.db.query(
      "UPDATE ai_keys SET key_sealed = $5 WHERE tenant_id = $1 AND owner = $2 AND provider = $3 AND key_sealed = $4",
      [tenantId, owner, provider, old, sealed],
    );
    return r.rowCount > 0;
  }

  /**
   * Marks a key refused by its provider.
   * @returns true only for the first caller since the key was set (who tells the admin, once).
   */
  async markInvalid(tenantId: string, owner: string, provider: AiProvider): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE ai_keys SET invalid_at = COALESCE(invalid_at, now()), invalid_notified_at = now()
       WHERE tenant_id = $1 AND owner = $2 AND provider = $3 AND invalid_notified_at IS NULL`,
      [tenantId, owner, provider],
    );
    return r.rowCount > 0;
  }

  /** Clears the invalid mark (a later call with the key worked). */
  async markValid(tenantId: string, owner: string, provider: AiProvider): Promise<void> {
    await this.db.query(
      `UPDATE ai_keys SET invalid_at = NULL, invalid_notified_at = NULL
       WHERE tenant_id = $1 AND owner = $2 AND provider = $3 AND invalid_at IS NOT NULL`,
      [tenantId, owner, provider],
    );
  }

  /** Rows left with neither key nor base URL are deleted. */
  private async prune(): Promise<void> {
    await this.db.query("DELETE FROM ai_keys WHERE key_sealed IS NULL AND base_url IS NULL");
  }

  /** The model choices of a tenant (defaults when never set). */
  async settings(tenantId: string): Promise<AiSettingsRow> {
    const r = await this.db.query<{
      tenant_id: string;
      answer_provider: AiProvider | null;
      answer_model: string | null;
      embedding_model: string | null;
      embedding_active_model: string | null;
      updated_by: string | null;
      updated_at: Date | string;
    }>("SELECT * FROM ai_settings WHERE tenant_id = $1", [tenantId]);
    const row = r.rows[0];
    return {
      tenantId,
      answerProvider: row?.answer_provider ?? null,
      answerModel: row?.answer_model ?? null,
      embeddingModel: row?.embedding_model ?? null,
      embeddingActiveModel: row?.embedding_active_model ?? null,
      updatedBy: row?.updated_by ?? null,
      updatedAt: new Date(row?.updated_at ?? 0),
    };
  }

  /** Updates the given model choices of a tenant (null clears one; undefined keeps it). */
  async putSettings(
    tenantId: string,
    patch: Partial<
      Pick<AiSettingsRow, "answerProvider" | "answerModel" | "embeddingModel" | "embeddingActiveModel">
    >,
    by: string,
  ): Promise<void> {
    const cur = await this.settings(tenantId);
    const next = { ...cur, ...patch };
    await this.db.query(
      `INSERT INTO ai_settings (tenant_id, answer_provider, answer_model, embedding_model, embedding_active_model, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (tenant_id) DO UPDATE SET answer_provider = EXCLUDED.answer_provider,
         answer_model = EXCLUDED.answer_model, embedding_model = EXCLUDED.embedding_model,
         embedding_active_model = EXCLUDED.embedding_active_model, updated_by = EXCLUDED.updated_by,
         updated_at = now()`,
      [tenantId, next.answerProvider, next.answerModel, next.embeddingModel, next.embeddingActiveModel, by],
    );
  }

  /** Adds one call's usage to the tenant's month. */
  async addUsage(input: {
    tenantId: string;
    provider: string;
    inputTokens?: number;
    outputTokens?: number;
    audioSeconds?: number;
    at?: Date;
  }): Promise<void> {
    await this.db.query(
      `INSERT INTO ai_usage (tenant_id, month, provider, calls, input_tokens, output_tokens, audio_seconds)
       VALUES ($1, $2, $3, 1, $4, $5, $6)
       ON CONFLICT (tenant_id, month, provider) DO UPDATE SET calls = ai_usage.calls + 1,
         input_tokens = ai_usage.input_tokens + EXCLUDED.input_tokens,
         output_tokens = ai_usage.output_tokens + EXCLUDED.output_tokens,
         audio_seconds = ai_usage.audio_seconds + EXCLUDED.audio_seconds`,
      [
        input.tenantId,
        monthOf(input.at),
        input.provider,
        Math.round(input.inputTokens ?? 0),
        Math.round(input.outputTokens ?? 0),
        input.audioSeconds ?? 0,
      ],
    );
  }

  /** Usage of a tenant in a month (default: this month, UTC), per provider. */
  async usage(tenantId: string, month = monthOf()): Promise<AiUsageRow[]> {
    const r = await this.db.query<{
      provider: string;
      calls: number;
      input_tokens: string | number;
      output_tokens: string | number;
      audio_seconds: number;
    }>(
      "SELECT provider, calls, input_tokens, output_tokens, audio_seconds FROM ai_usage WHERE tenant_id = $1 AND month = $2 ORDER BY provider",
      [tenantId, month],
    );
    return r.rows.map((x) => ({
      provider: x.provider,
      calls: Number(x.calls),
      inputTokens: Number(x.input_tokens),
      outputTokens: Number(x.output_tokens),
      audioSeconds: Number(x.audio_seconds),
    }));
  }
}
