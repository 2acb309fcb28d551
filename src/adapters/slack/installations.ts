import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Sealer } from "../../security/crypto.ts";

/** Tenant id of a Slack workspace installed through OAuth (DESIGN.md, Tenants). */
export function tenantForTeam(teamOrEnterpriseId: string): string {
  return `slack:${teamOrEnterpriseId}`;
}

/** One workspace installation, tokens in clear (only ever held in memory). */
export interface SlackInstallation {
  tenantId: string;
  teamId?: string;
  enterpriseId?: string;
  teamName?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  /** Comma-separated bot scopes granted. */
  scopes: string;
  botToken: string;
  /** Present when token rotation is on. */
  refreshToken?: string;
  /** When `botToken` expires (token rotation), else undefined. */
  tokenExpiresAt?: Date;
  installerUserId?: string;
  status: "active" | "broken";
  brokenReason?: string;
}

/** New tokens from `oauth.v2.access` with `grant_type=refresh_token`. */
export interface RefreshedTokens {
  botToken: string;
  refreshToken: string;
  /** Lifetime of the new token, seconds. */
  expiresIn: number;
}

/** Refresh this long before expiry (Slack's own SDK uses two hours). */
const REFRESH_BEFORE_MS = 2 * 3600_000;
/** Below this remaining lifetime a caller waits for the refresh instead of using the old token. */
const MUST_REFRESH_MS = 5 * 60_000;
const CACHE_MS = 30_000;

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

/**
 * Slack installations in Postgres (table `slack_installations`), tokens sealed with AES-256-GCM
 * bound to the tenant id. Reads are cached for 30 s per process. Rotating tokens
 * (https://docs.slack.dev/authentication/using-token-rotation) are refreshed two hours before they
 * expire, under a row lock so replicas refresh once.
 */
export class SlackInstallationStore {
  private cache = new Map<string, { at: number; inst: SlackInstallation | undefined }>();
  private refreshing = new Map<string, Promise<SlackInstallation | undefined>>();

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
    private readonly opts: {
      logger: Logger;
      /** Exchanges a refresh token for new tokens (oauth.v2.access). */
      refresh?: (refreshToken: string) => Promise<RefreshedTokens>;
    },
  ) {}

  /** Stores (or replaces, on reinstall) an installation as active. */
  async save(inst: Omit<SlackInstallation, "status" | "brokenReason">): Promise<void> {
    const seal = (v: string) => this.sealer.seal(v, inst.tenantId);
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
        seal(inst.botToken),
        inst.refreshToken ? seal(inst.refreshToken) : null,
        inst.tokenExpiresAt ?? null,
        inst.installerUserId ?? null,
      ],
    );
    this.cache.delete(inst.tenantId);
  }

  /** The installation of `tenantId` (cached 30 s), or undefined. */
  async get(tenantId: string): Promise<SlackInstallation | undefined> {
    const hit = this.cache.get(tenantId);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.inst;
    const r = await this.db.query<Row>("SELECT * FROM slack_installations WHERE tenant_id = $1", [tenantId]);
    const inst = r.rows[0] ? this.fromRow(r.rows[0]) : undefined;
    this.cache.set(tenantId, { at: Date.now(), inst });
    return inst;
  }

  /**
   * The installation with a usable bot token: refreshes a rotating token that expires within two
   * hours (waiting only when less than five minutes are left; otherwise in the background).
   */
  async getFresh(tenantId: string): Promise<SlackInstallation | undefined> {
    const inst = await this.get(tenantId);
    if (!inst?.refreshToken || !inst.tokenExpiresAt || !this.opts.refresh) return inst;
    const left = inst.tokenExpiresAt.getTime() - Date.now();
    if (left > REFRESH_BEFORE_MS) return inst;
    const p = this.refreshOnce(tenantId);
    if (left > MUST_REFRESH_MS) {
      p.catch(() => {});
      return inst;
    }
    return (await p) ?? inst;
  }

  /** Marks an installation broken (revoked or inactive token) with a short reason. */
  async markBroken(tenantId: string, reason: string): Promise<void> {
    await this.db.query(
      "UPDATE slack_installations SET status = 'broken', broken_reason = $2, updated_at = now() WHERE tenant_id = $1",
      [tenantId, reason],
    );
    this.cache.delete(tenantId);
  }

  /** Deletes an installation. @returns whether one existed. */
  async delete(tenantId: string): Promise<boolean> {
    const r = await this.db.query("DELETE FROM slack_installations WHERE tenant_id = $1", [tenantId]);
    this.cache.delete(tenantId);
    return r.rowCount > 0;
  }

  /** Forgets cached rows (another replica may have changed them). */
  invalidate(tenantId?: string): void {
    if (tenantId) this.cache.delete(tenantId);
    else this.cache.clear();
  }

  private refreshOnce(tenantId: string): Promise<SlackInstallation | undefined> {
    const running = this.refreshing.get(tenantId);
    if (running) return running;
    const p = this.refreshLocked(tenantId)
      .catch((err: unknown) => {
        this.opts.logger.error({ err, tenantId }, "slack token refresh failed");
        return undefined;
      })
      .finally(() => this.refreshing.delete(tenantId));
    this.refreshing.set(tenantId, p);
    return p;
  }

  private async refreshLocked(tenantId: string): Promise<SlackInstallation | undefined> {
    const refresh = this.opts.refresh;
    if (!refresh) return undefined;
    const out = await this.db.transaction(async (tx) => {
      const r = await tx.query<Row>("SELECT * FROM slack_installations WHERE tenant_id = $1 FOR UPDATE", [
        tenantId,
      ]);
      const row = r.rows[0];
      if (!row) return undefined;
      const inst = this.fromRow(row);
      // Another replica may have refreshed while this one waited for the lock.
      if (!inst.refreshToken || !inst.tokenExpiresAt) return inst;
      if (inst.tokenExpiresAt.getTime() - Date.now() > REFRESH_BEFORE_MS) return inst;
      const t = await refresh(inst.refreshToken);
      const expires = new Date(Date.now() + t.expiresIn * 1000);
      await tx.query(
        `UPDATE slack_installations SET bot_token_sealed = $2, refresh_token_sealed = $3, token_expires_at = $4,
           updated_at = now() WHERE tenant_id = $1`,
        [
          tenantId,
          this.sealer.seal(t.botToken, tenantId),
          this.sealer.seal(t.refreshToken, tenantId),
          expires,
        ],
      );
      this.opts.logger.info({ tenantId }, "slack bot token rotated");
      return { ...inst, botToken: t.botToken, refreshToken: t.refreshToken, tokenExpiresAt: expires };
    });
    this.cache.set(tenantId, { at: Date.now(), inst: out });
    return out;
  }

  private fromRow(r: Row): SlackInstallation {
    return {
      tenantId: r.tenant_id,
      teamId: r.team_id ?? undefined,
      enterpriseId: r.enterprise_id ?? undefined,
      teamName: r.team_name ?? undefined,
      appId: r.app_id ?? undefined,
      botUserId: r.bot_user_id ?? undefined,
      botId: r.bot_id ?? undefined,
      scopes: r.bot_scopes,
      botToken: this.sealer.open(r.bot_token_sealed, r.tenant_id),
      refreshToken: r.refresh_token_sealed
        ? this.sealer.open(r.refresh_token_sealed, r.tenant_id)
        : undefined,
      tokenExpiresAt: r.token_expires_at ? new Date(r.token_expires_at) : undefined,
      installerUserId: r.installer_user_id ?? undefined,
      status: r.status,
      brokenReason: r.broken_reason ?? undefined,
    };
  }
}
