import type { Db, Queryable } from "./types.ts";

/** One row of `slack_installations` (migration 002): tokens stay sealed here. */
export interface SlackInstallationRow {
  tenantId: string;
  teamId?: string;
  enterpriseId?: string;
  teamName?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  /** Comma-separated bot scopes granted. */
  scopes: string;
  botTokenSealed: string;
  refreshTokenSealed?: string;
  tokenExpiresAt?: Date;
  installerUserId?: string;
  status: "active" | "broken";
  brokenReason?: string;
}

interface Row {
  tenant_id: string;
  team_id: string | null;
  enterprise_id: string | null;
  team_name: string | null;
  app_id: string | null;
  bot_user_id: string | null;
  bot_id: string | null;
  bot_scopes: string;
  bot_token_sealed: string;
  refresh_token_sealed: string | null;
  token_expires_at: string | Date | null;
  installer_user_id: string | null;
  status: "active" | "broken";
  broken_reason: string | null;
}

function fromRow(r: Row): SlackInstallationRow {
  return {
    tenantId: r.tenant_id,
    teamId: r.team_id ?? undefined,
    enterpriseId: r.enterprise_id ?? undefined,
    teamName: r.team_name ?? undefined,
    appId: r.app_id ?? undefined,
    botUserId: r.bot_user_id ?? undefined,
    botId: r.bot_id ?? undefined,
    scopes: r.bot_scopes,
    botTokenSealed: r.bot_token_sealed,
    refreshTokenSealed: r.refresh_token_sealed ?? undefined,
    tokenExpiresAt: r.token_expires_at ? new Date(r.token_expires_at) : undefined,
    installerUserId: r.installer_user_id ?? undefined,
    status: r.status,
    brokenReason: r.broken_reason ?? undefined,
  };
}

/** Repository of `slack_installations`: the only SQL of Slack workspaces installed through OAuth. */
export class SlackInstallationRepo {
  constructor(private readonly db: Db) {}

  /** Stores (or replaces, on reinstall) an installation as active. */
  async save(inst: Omit<SlackInstallationRow, "status" | "brokenReason">): Promise<void> {
    await this.db.query(
      `INSERT INTO slack_installations (tenant_id, team_id, enterprise_id, team_name, app_id, bot_user_id, bot_id,
         bot_scopes, bot_token_sealed, refresh_token_sealed, token_expires_at, installer_user_id, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active')
       ON CONFLICT (tenant_id) DO UPDATE SET team_id = EXCLUDED.team_id, enterprise_id = EXCLUDED.enterprise_id,
         team_name = EXCLUDED.team_name, app_id = EXCLUDED.app_id, bot_user_id = EXCLUDED.bot_user_id,
         bot_id = EXCLUDED.bot_id, bot_scopes = EXCLUDED.bot_scopes, bot_token_sealed = EXCLUDED.bot_token_sealed,
         refresh_token_sealed = EXCLUDED.refresh_token_sealed, token_expires_at = EXCLUDED.token_expires_at,
         installer_user_id = EXCLUDED.installer_user_id, status = 'active', broken_reason = NULL, updated_at = now()`,
      [
        inst.tenantId,
        inst.teamId ?? null,
        inst.enterpriseId ?? null,
        inst.teamName ?? null,
        inst.appId ?? null,
        inst.botUserId ?? null,
        inst.botId ?? null,
        inst.scopes,
        inst.botTokenSealed,
        inst.refreshTokenSealed ?? null,
        inst.tokenExpiresAt ?? null,
        inst.installerUserId ?? null,
      ],
    );
  }

  /** The installation of `tenantId`, or undefined. */
  async get(tenantId: string): Promise<SlackInstallationRow | undefined> {
    const r = await this.db.query<Row>("SELECT * FROM slack_installations WHERE tenant_id = $1", [tenantId]);
    return r.rows[0] ? fromRow(r.rows[0]) : undefined;
  }

  /** Every installation, oldest first (status pages, readiness, background token refresh). */
  async list(): Promise<SlackInstallationRow[]> {
    const r = await this.db.query<Row>("SELECT * FROM slack_installations ORDER BY installed_at");
    return r.rows.map(fromRow);
  }

  /** Tenants of active installations whose rotating token expires before `before`. */
  async expiringBefore(before: Date): Promise<string[]> {
    const r = await this.db.query<{ tenant_id: string }>(
      `SELECT tenant_id FROM slack_installations
       WHERE status = 'active' AND refresh_token_sealed IS NOT NULL AND token_expires_at < $1`,
      [before],
    );
    return r.rows.map((x) => x.tenant_id);
  }

  /**
   * Runs `fn` with the installation row locked (`FOR UPDATE`), so replicas refresh a rotating
   * token once; `fn` may store new tokens through `update`.
   */
  async withLocked<T>(
    tenantId: string,
    fn: (
      row: SlackInstallationRow | undefined,
      update: (t: {
        botTokenSealed: string;
        refreshTokenSealed: string;
        tokenExpiresAt: Date;
      }) => Promise<void>,
    ) => Promise<T>,
  ): Promise<T> {
    return this.db.transaction(async (tx: Queryable) => {
      const r = await tx.query<Row>("SELECT * FROM slack_installations WHERE tenant_id = $1 FOR UPDATE", [
        tenantId,
      ]);
      return fn(r.rows[0] ? fromRow(r.rows[0]) : undefined, async (t) => {
        await tx.query(
          `UPDATE slack_installations SET bot_token_sealed = $2, refresh_token_sealed = $3, token_expires_at = $4,
             updated_at = now() WHERE tenant_id = $1`,
          [tenantId, t.botTokenSealed, t.refreshTokenSealed, t.tokenExpiresAt],
        );
      });
    });
  }

  /** Marks an installation broken (revoked or inactive token) with a short reason. */
  async markBroken(tenantId: string, reason: string): Promise<void> {
    await this.db.query(
      "UPDATE slack_installations SET status = 'broken', broken_reason = $2, updated_at = now() WHERE tenant_id = $1",
      [tenantId, reason],
    );
  }

  /** Deletes an installation. @returns whether one existed. */
  async delete(tenantId: string): Promise<boolean> {
    const r = await this.db.query("DELETE FROM slack_installations WHERE tenant_id = $1", [tenantId]);
    return r.rowCount > 0;
  }
}
