import type { webApi } from "@slack/bolt";
import { LRUCache } from "lru-cache";
import { DEFAULT_TENANT } from "../../config.ts";
import type { SlackInstallationRepo, SlackInstallationRow } from "../../db/slack-installations.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Sealer } from "../../security/crypto.ts";
import {
  AUTH_ERRORS,
  type AuthCheck,
  type BotIdentity,
  describeApiError,
  errorCode,
  type SingleWorkspaceIdentity,
} from "./identity.ts";

/** Additional authenticated data of an installation's sealed Slack tokens: the Atom tenant id. */
export function slackTokenContext(tenantId: string): string {
  return tenantId;
}

/** Tenant id of a Slack workspace installed through OAuth (DESIGN.md, Tenants). */
export function tenantForTeam(teamOrEnterpriseId: string): string {
  return `slack:${teamOrEnterpriseId}`;
}

/** One workspace installation, tokens in clear (only ever held in memory). */
export interface SlackInstallation
  extends Omit<SlackInstallationRow, "botTokenSealed" | "refreshTokenSealed"> {
  botToken: string;
  refreshToken?: string;
}

/** New tokens from `oauth.v2.access` with `grant_type=refresh_token`. */
export interface RefreshedTokens {
  botToken: string;
  refreshToken: string;
  /** Lifetime of the new token, seconds. */
  expiresIn: number;
}

/** A token and the bot identity it belongs to. */
export interface Credentials extends BotIdentity {
  token: string;
}

/** Refresh this long before expiry (Slack's own SDK uses two hours). */
const REFRESH_BEFORE_MS = 2 * 3600_000;
/** Below this remaining lifetime a caller waits for the refresh instead of using the old token. */
const MUST_REFRESH_MS = 5 * 60_000;
/** Installation rows are read again after this long (another replica may have changed them). */
const CACHE_MS = 30_000;
/** How often the background refresher looks for rotating tokens that expire soon. */
const REFRESH_SCAN_MS = 10 * 60_000;

/** What {@link SlackCredentials} needs. */
export interface CredentialDeps {
  logger: Logger;
  /** `SLACK_BOT_TOKEN` and its identity (single workspace = default tenant), when set. */
  single?: { token: string; identity: SingleWorkspaceIdentity };
  /** OAuth installations, when OAuth is on. */
  installations?: {
    repo: SlackInstallationRepo;
    sealer: Sealer;
    /** Exchanges a refresh token for new tokens (oauth.v2.access). */
    refresh: (refreshToken: string) => Promise<RefreshedTokens>;
    /** A WebClient for `auth.test` with an installation's token. */
    client: webApi.WebClient;
  };
}

/**
 * Tokens and bot identities per tenant, for the worker (never the ack path): the single-workspace
 * token, and OAuth installations decrypted from Postgres into a bounded LRU cache (30 s). Rotating
 * tokens (https://docs.slack.dev/authentication/using-token-rotation) are refreshed in the
 * background two hours before they expire (a scan every 10 minutes, and on use), under a row lock
 * so replicas refresh once; a caller waits only when less than five minutes are left.
 */
export class SlackCredentials {
  private readonly cache = new LRUCache<string, { inst: SlackInstallation | null }>({
    max: 5000,
    ttl: CACHE_MS,
  });
  private readonly byWorkspace = new LRUCache<string, BotIdentity>({ max: 5000 });
  private readonly refreshing = new Map<string, Promise<SlackInstallation | undefined>>();
  private readonly checks = new LRUCache<string, AuthCheck>({ max: 5000 });
  private scanTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: CredentialDeps) {}

  /** Whether OAuth installations are on. */
  get oauth(): boolean {
    return Boolean(this.deps.installations);
  }

  /** The single-workspace identity, when `SLACK_BOT_TOKEN` is set. */
  get single(): SingleWorkspaceIdentity | undefined {
    return this.deps.single?.identity;
  }

  /** Starts background work: the auth.test of the single token, the token refresh scan. */
  start(): void {
    this.deps.single?.identity.start();
    if (this.deps.installations?.refresh) {
      this.scanTimer = setInterval(() => void this.refreshExpiring(), REFRESH_SCAN_MS);
      this.scanTimer.unref();
      void this.refreshExpiring();
    }
  }

  /** Stops timers. */
  close(): void {
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.deps.single?.identity.close();
  }

  /**
   * The bot identity of a workspace as far as this process already knows it, without any I/O
   * (the ack path uses it to drop Atom's own messages at the door).
   */
  peek(workspace: string | undefined): BotIdentity | undefined {
    const single = this.deps.single?.identity.known;
    if (single && (!workspace || workspace === single.teamId || workspace === single.enterpriseId))
      return single;
    if (!this.deps.installations && this.deps.single) return single;
    return workspace ? this.byWorkspace.get(workspace) : undefined;
  }

  /**
   * The Atom tenant of a workspace (the env token's team is the default tenant). With OAuth too,
   * waits (at most `waitMs`) for auth.test to name the env token's team.
   */
  async tenantOf(workspace: string | undefined, waitMs: number): Promise<string> {
    const single = this.deps.single;
    if (!single) return workspace ? tenantForTeam(workspace) : DEFAULT_TENANT;
    if (!this.deps.installations || !workspace) return DEFAULT_TENANT;
    const id = single.identity.known ?? (await single.identity.wait(waitMs));
    if (!id || workspace === id.teamId || workspace === id.enterpriseId) return DEFAULT_TENANT;
    return tenantForTeam(workspace);
  }

  /** Token and identity of a tenant, or undefined when it has no (usable) installation. */
  async forTenant(tenantId: string, waitIdentityMs = 0): Promise<Credentials | undefined> {
    const single = this.deps.single;
    if (tenantId === DEFAULT_TENANT && single) {
      const id =
        single.identity.known ??
        (waitIdentityMs > 0 ? await single.identity.wait(waitIdentityMs) : undefined);
      return { token: single.token, ...id };
    }
    const inst = await this.fresh(tenantId);
    if (!inst) return undefined;
    return {
      token: inst.botToken,
      teamId: inst.teamId,
      enterpriseId: inst.enterpriseId,
      botUserId: inst.botUserId,
      botId: inst.botId,
    };
  }

  /** The installation of `tenantId` (cached 30 s), or undefined. */
  async installation(tenantId: string): Promise<SlackInstallation | undefined> {
    const hit = this.cache.get(tenantId);
    if (hit) return hit.inst ?? undefined;
    const i = this.deps.installations;
    const row = i ? await i.repo.get(tenantId) : undefined;
    const inst = row && i ? this.open(row, i.sealer) : undefined;
    this.remember(tenantId, inst);
    return inst;
  }

  /** Every installation (status, readiness). */
  async installations(): Promise<SlackInstallation[]> {
    const i = this.deps.installations;
    if (!i) return [];
    return (await i.repo.list()).map((row) => this.open(row, i.sealer));
  }

  /** Stores a new installation (OAuth redirect), tokens sealed to the tenant. */
  async save(inst: Omit<SlackInstallation, "status" | "brokenReason">): Promise<void> {
    const i = this.required();
    const { botToken, refreshToken, ...rest } = inst;
    await i.repo.save({
      ...rest,
      botTokenSealed: i.sealer.seal(botToken, slackTokenContext(inst.tenantId)),
      refreshTokenSealed: refreshToken
        ? i.sealer.seal(refreshToken, slackTokenContext(inst.tenantId))
        : undefined,
    });
    this.cache.delete(inst.tenantId);
    this.checks.delete(inst.tenantId);
  }

  /** Marks a tenant's token as refused (status shows it; an installation is marked broken). */
  async markBroken(tenantId: string, code: string): Promise<void> {
    if (tenantId === DEFAULT_TENANT && this.deps.single) {
      this.deps.single.identity.noteRejected(code);
      return;
    }
    this.checks.set(tenantId, { ok: false, at: new Date(), error: code, rejected: true, failures: 1 });
    await this.deps.installations?.repo.markBroken(tenantId, code);
    this.cache.delete(tenantId);
  }

  /** Deletes an installation. */
  async delete(tenantId: string): Promise<void> {
    await this.deps.installations?.repo.delete(tenantId);
    this.cache.delete(tenantId);
    this.checks.delete(tenantId);
  }

  /**
   * The `auth.test` result of an installation's token, asked again when older than `maxAgeMs`
   * (status, readiness). Undefined without an installation.
   */
  async checkInstallation(tenantId: string, maxAgeMs = 60_000): Promise<AuthCheck | undefined> {
    const last = this.checks.get(tenantId);
    if (last && Date.now() - last.at.getTime() < maxAgeMs) return last;
    const cred = await this.forTenant(tenantId);
    const i = this.deps.installations;
    if (!cred || !i) return undefined;
    let check: AuthCheck;
    try {
      await i.client.auth.test({ token: cred.token });
      check = { ok: true, at: new Date(), failures: 0 };
    } catch (err) {
      const code = errorCode(err);
      check = {
        ok: false,
        at: new Date(),
        error: describeApiError(err),
        failures: (last?.failures ?? 0) + 1,
      };
      if (code && AUTH_ERRORS.has(code)) {
        check.rejected = true;
        await this.markBroken(tenantId, code);
      }
    }
    this.checks.set(tenantId, check);
    return check;
  }

  /** Refreshes every rotating token that expires within two hours (background scan). */
  async refreshExpiring(): Promise<void> {
    const i = this.deps.installations;
    if (!i) return;
    try {
      for (const tenantId of await i.repo.expiringBefore(new Date(Date.now() + REFRESH_BEFORE_MS))) {
        await this.refreshOnce(tenantId);
      }
    } catch (err) {
      this.deps.logger.error({ err }, "slack token refresh scan failed");
    }
  }

  private async fresh(tenantId: string): Promise<SlackInstallation | undefined> {
    const inst = await this.installation(tenantId);
    if (!inst?.refreshToken || !inst.tokenExpiresAt) return inst;
    const left = inst.tokenExpiresAt.getTime() - Date.now();
    if (left > REFRESH_BEFORE_MS) return inst;
    const p = this.refreshOnce(tenantId);
    if (left > MUST_REFRESH_MS) return inst;
    return (await p) ?? inst;
  }

  private refreshOnce(tenantId: string): Promise<SlackInstallation | undefined> {
    const running = this.refreshing.get(tenantId);
    if (running) return running;
    const p = this.refreshLocked(tenantId)
      .catch((err: unknown) => {
        this.deps.logger.error({ err, tenantId }, "slack token refresh failed");
        return undefined;
      })
      .finally(() => this.refreshing.delete(tenantId));
    this.refreshing.set(tenantId, p);
    return p;
  }

  private async refreshLocked(tenantId: string): Promise<SlackInstallation | undefined> {
    const i = this.required();
    const out = await i.repo.withLocked(tenantId, async (row, update) => {
      if (!row) return undefined;
      const inst = this.open(row, i.sealer);
      // Another replica may have refreshed while this one waited for the lock.
      if (!inst.refreshToken || !inst.tokenExpiresAt) return inst;
      if (inst.tokenExpiresAt.getTime() - Date.now() > REFRESH_BEFORE_MS) return inst;
      const t = await i.refresh(inst.refreshToken);
      const expires = new Date(Date.now() + t.expiresIn * 1000);
      await update({
        botTokenSealed: i.sealer.seal(t.botToken, slackTokenContext(tenantId)),
        refreshTokenSealed: i.sealer.seal(t.refreshToken, slackTokenContext(tenantId)),
        tokenExpiresAt: expires,
      });
      this.deps.logger.info({ tenantId }, "slack bot token rotated");
      return { ...inst, botToken: t.botToken, refreshToken: t.refreshToken, tokenExpiresAt: expires };
    });
    this.remember(tenantId, out);
    return out;
  }

  private remember(tenantId: string, inst: SlackInstallation | undefined): void {
    this.cache.set(tenantId, { inst: inst ?? null });
    if (!inst) return;
    const id = {
      teamId: inst.teamId,
      enterpriseId: inst.enterpriseId,
      botUserId: inst.botUserId,
      botId: inst.botId,
    };
    if (inst.teamId) this.byWorkspace.set(inst.teamId, id);
    if (inst.enterpriseId) this.byWorkspace.set(inst.enterpriseId, id);
  }

  private open(row: SlackInstallationRow, sealer: Sealer): SlackInstallation {
    const { botTokenSealed, refreshTokenSealed, ...rest } = row;
    return {
      ...rest,
      botToken: sealer.open(botTokenSealed, slackTokenContext(row.tenantId)),
      refreshToken: refreshTokenSealed
        ? sealer.open(refreshTokenSealed, slackTokenContext(row.tenantId))
        : undefined,
    };
  }

  private required(): NonNullable<CredentialDeps["installations"]> {
    const i = this.deps.installations;
    if (!i) throw new Error("Slack OAuth installations are not configured");
    return i;
  }
}
