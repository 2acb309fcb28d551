import crypto from "node:crypto";
import { App, type AuthorizeResult, type AuthorizeSourceData, webApi } from "@slack/bolt";
import type { Hono } from "hono";
import type { Bot } from "../../bot/types.ts";
import type { Reply } from "../../bot/reply.ts";
import { type Config, DEFAULT_TENANT } from "../../config.ts";
import { claimEvent, completeEvent } from "../../db/events.ts";
import type { Db } from "../../db/types.ts";
import { type Logger, scrubSecrets } from "../../observability/logger.ts";
import { createSealer, hmacHex, loadMasterKey, randomToken } from "../../security/crypto.ts";
import { createOAuthStateStore } from "../../security/oauth-state.ts";
import type { RouteMounter } from "../../server/app.ts";
import type { ChatFile, ChatMessage, ConversationTarget, Messenger } from "../types.ts";
import { boltLogger } from "./bolt-logger.ts";
import { renderNotice, renderReply, type SlackMessage, slackToPlain } from "./format.ts";
import { SlackInstallationStore, tenantForTeam } from "./installations.ts";
import { mountSlackOAuth } from "./oauth.ts";
import { HonoSlackReceiver } from "./receiver.ts";

/** Web API errors that mean the token no longer works: the installation is marked broken. */
const AUTH_ERRORS = new Set([
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "not_authed",
  "team_access_not_granted",
]);
/** Message subtypes that are a person writing (everything else — edits, deletes, joins — is ignored). */
const USER_SUBTYPES = new Set([undefined, "file_share", "thread_broadcast", "me_message"]);
/** Emoji shown on the question while Atom works on it. */
const WORKING_REACTION = "hourglass_flowing_sand";

/** The memory operation the adapter needs when a workspace uninstalls Atom. */
export interface TenantPurger {
  /** Deletes every chunk, document and source of the tenant. */
  purgeTenant(tenantId: string): Promise<void>;
}

/** Tunables, mostly for tests. */
export interface SlackAdapterOptions {
  /** Loop guard: at most `max` bot replies per thread within `windowMs` (default 10 per 10 minutes). */
  loopGuard?: { max: number; windowMs: number };
  /** Identical `/atom` commands from one person in one channel within this window run once (default 30 s). */
  commandDedupeMs?: number;
  /** The ⏳ reaction is added when an answer takes longer than this, ms (default 400). */
  workingSignalAfterMs?: number;
  /** Messages answered at the same time per process; more wait in memory after the ack (default 16). */
  maxConcurrentAnswers?: number;
  /** WebClient retry policy (429 and network errors); default 3 retries. */
  retryConfig?: webApi.RetryOptions;
  /** OAuth state lifetime, seconds (default 600). */
  stateTtlSeconds?: number;
  /** Clock for the signature window, seconds (tests). */
  nowSeconds?: () => number;
  /** Timeout of one background `auth.test` attempt for SLACK_BOT_TOKEN, ms (default 5,000). */
  identityTimeoutMs?: number;
  /** Backoff between failed `auth.test` attempts: doubles from `minMs` up to `maxMs` (default 0.5 s … 60 s). */
  identityRetry?: { minMs: number; maxMs: number };
  /** How long answer work waits (after the ack) for the bot identity before going on without it, ms (default 60,000). */
  identityWaitMs?: number;
}

/** What the Slack adapter needs from the rest of Atom. */
export interface SlackAdapterDeps {
  config: Config;
  db: Db;
  bot: Bot;
  memory: TenantPurger;
  logger: Logger;
  options?: SlackAdapterOptions;
}

/** A running Slack adapter. */
export interface SlackAdapter {
  /** Mounts `POST /slack/events` (HTTP mode) and the OAuth routes (when configured). */
  routes: RouteMounter;
  /** Proactive posting for workflows and jobs. */
  messenger: Messenger;
  /** The Bolt app (listeners are registered). */
  app: App;
  /** Present in OAuth (multi-workspace) mode. */
  installations?: SlackInstallationStore;
  /** Stops Socket Mode and timers. */
  close(): Promise<void>;
}

/** Whether the environment configures Slack at all. */
export function slackConfigured(config: Config): boolean {
  const e = config.env;
  return Boolean(e.SLACK_BOT_TOKEN || e.SLACK_CLIENT_ID || e.SLACK_APP_TOKEN);
}

/** Identity of the bot behind a token (from auth.test / the installation). */
interface BotIdentity {
  teamId?: string;
  botUserId?: string;
  botId?: string;
}

/** Per-event context our authorize puts on Bolt's context. */
interface AtomContext {
  tenantId: string;
  botToken: string;
  botUserId?: string;
  botId?: string;
}

/**
 * Builds Atom's Slack app: the real `@slack/bolt` App behind {@link HonoSlackReceiver} (or Socket
 * Mode when `SLACK_APP_TOKEN` is set), with either the single-workspace token (`SLACK_BOT_TOKEN`,
 * tenant "default") or OAuth installations (`SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET`, tenant
 * `slack:<team_id>`), or both. Every Web API call uses the team's own token and `SLACK_API_URL`.
 * @throws Error naming the missing setting when the configuration is incomplete.
 */
export function createSlackAdapter(deps: SlackAdapterDeps): SlackAdapter {
  const { config, db, bot, logger } = deps;
  const env = config.env;
  const opts = deps.options ?? {};
  const log = logger.child({ component: "slack" });
  const singleToken = env.SLACK_BOT_TOKEN;
  const socketMode = Boolean(env.SLACK_APP_TOKEN);
  const oauthOn = Boolean(env.SLACK_CLIENT_ID || env.SLACK_CLIENT_SECRET);
  if (oauthOn && !(env.SLACK_CLIENT_ID && env.SLACK_CLIENT_SECRET)) {
    throw new Error("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be set together for Slack OAuth installs");
  }
  if (!singleToken && !oauthOn) {
    throw new Error(
      "Slack needs SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET (OAuth)",
    );
  }
  if (!socketMode && !env.SLACK_SIGNING_SECRET) {
    throw new Error("SLACK_SIGNING_SECRET is required to receive Slack events over HTTP");
  }

  const slackApiUrl = env.SLACK_API_URL
    ? `${env.SLACK_API_URL.replace(/\/$/, "")}/`
    : "https://slack.com/api/";
  const blogger = boltLogger(logger);
  const clientOptions: webApi.WebClientOptions = {
    slackApiUrl,
    logger: blogger,
    retryConfig: opts.retryConfig ?? { retries: 3, factor: 2, minTimeout: 200, maxTimeout: 5000 },
    rejectRateLimitedCalls: false,
    timeout: 30_000,
  };
  const clients = new Map<string, webApi.WebClient>();
  const clientFor = (token: string) => {
    let c = clients.get(token);
    if (!c) {
      if (clients.size > 500) clients.clear();
      c = new webApi.WebClient(token, clientOptions);
      clients.set(token, c);
    }
    return c;
  };
  const anonClient = new webApi.WebClient(undefined, clientOptions);

  // --- installations (OAuth mode) ---
  let installations: SlackInstallationStore | undefined;
  let masterKey: Buffer | undefined;
  if (oauthOn) {
    masterKey = loadMasterKey({ envKey: env.ATOM_ENCRYPTION_KEY, dataDir: config.dataDir, logger });
    installations = new SlackInstallationStore(db, createSealer(masterKey), {
      logger: log,
      refresh: async (refreshToken) => {
        const r = await anonClient.oauth.v2.access({
          client_id: env.SLACK_CLIENT_ID as string,
          client_secret: env.SLACK_CLIENT_SECRET as string,
          grant_type: "refresh_token",
          refresh_token: refreshToken,
        });
        if (!r.access_token || !r.refresh_token) throw new Error("token refresh answer lacks tokens");
        return { botToken: r.access_token, refreshToken: r.refresh_token, expiresIn: r.expires_in ?? 43_200 };
      },
    });
  }

  // --- single-workspace identity (auth.test in the background, never before an ack) ---
  let singleIdentity: BotIdentity | undefined;
  let defaultBroken: string | undefined;
  /** Set when auth.test rejected SLACK_BOT_TOKEN: no more attempts, waiters go on without it. */
  let identityGaveUp = false;
  let identityTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const identityWaiters = new Set<() => void>();
  const identityBackoff = opts.identityRetry ?? { minMs: 500, maxMs: 60_000 };
  const identityWaitMs = opts.identityWaitMs ?? 60_000;
  // One attempt per call (no WebClient retries, its own warnings at debug): the loop below retries
  // with backoff and logs one clear warning.
  const identityClient = singleToken
    ? new webApi.WebClient(singleToken, {
        ...clientOptions,
        logger: boltLogger(logger, { quiet: true }),
        retryConfig: { retries: 0 },
        timeout: opts.identityTimeoutMs ?? 5000,
      })
    : undefined;
  let identityWarned = false;
  const releaseIdentityWaiters = () => {
    for (const w of [...identityWaiters]) w();
  };
  /** One auth.test attempt; on a network or server failure the next one is scheduled with backoff. */
  const resolveIdentity = async (attempt: number): Promise<void> => {
    identityTimer = undefined;
    if (closed || !identityClient) return;
    try {
      const r = await identityClient.auth.test();
      singleIdentity = { teamId: r.team_id, botUserId: r.user_id, botId: r.bot_id };
      defaultBroken = undefined;
      if (identityWarned) {
        log.info(
          { method: "auth.test", apiUrl: slackApiUrl, attempts: attempt + 1 },
          `Slack auth.test at ${slackApiUrl} succeeded; bot identity resolved`,
        );
      }
      releaseIdentityWaiters();
    } catch (err) {
      if (closed) return;
      const code = errorCode(err);
      if (code && AUTH_ERRORS.has(code)) {
        defaultBroken = code;
        identityGaveUp = true;
        log.error(
          { method: "auth.test", apiUrl: slackApiUrl, code },
          `Slack auth.test at ${slackApiUrl} rejected SLACK_BOT_TOKEN (${code}); check the token`,
        );
        releaseIdentityWaiters();
        return;
      }
      const retryInMs = Math.min(identityBackoff.maxMs, identityBackoff.minMs * 2 ** Math.min(attempt, 20));
      const reason = describeApiError(err);
      if (!identityWarned) {
        identityWarned = true;
        log.warn(
          { method: "auth.test", apiUrl: slackApiUrl, reason, retryInMs },
          `Slack auth.test at ${slackApiUrl} failed (${reason}); events are still acknowledged, answers wait for the bot identity; retrying in the background`,
        );
      } else {
        log.debug(
          { method: "auth.test", apiUrl: slackApiUrl, reason, retryInMs },
          "slack auth.test retry failed",
        );
      }
      identityTimer = setTimeout(() => void resolveIdentity(attempt + 1), retryInMs);
      identityTimer.unref?.();
    }
  };
  if (singleToken) void resolveIdentity(0);

  /**
   * The single-workspace bot identity, waiting (at most `identityWaitMs`) while auth.test has not
   * answered yet. Undefined when auth.test rejected the token, timed out here, or there is no token.
   */
  const waitForIdentity = async (): Promise<BotIdentity | undefined> => {
    if (!singleToken || singleIdentity || identityGaveUp || closed) return singleIdentity;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        identityWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        log.warn(
          { method: "auth.test", apiUrl: slackApiUrl, waitedMs: identityWaitMs },
          "slack bot identity still unknown; answering without it",
        );
        done();
      }, identityWaitMs);
      identityWaiters.add(done);
    });
    return singleIdentity;
  };

  /** Which tenant a team belongs to (the env token's team is the default tenant). */
  const tenantOf = (teamOrEnterprise: string | undefined): string => {
    if (singleToken && (!oauthOn || !teamOrEnterprise || teamOrEnterprise === singleIdentity?.teamId)) {
      return DEFAULT_TENANT;
    }
    return teamOrEnterprise ? tenantForTeam(teamOrEnterprise) : DEFAULT_TENANT;
  };

  /** Token and identity for a tenant, refreshing rotating tokens (never waits for auth.test). */
  const credentialsFor = async (tenantId: string): Promise<(BotIdentity & { token: string }) | undefined> => {
    if (tenantId === DEFAULT_TENANT && singleToken) {
      return { token: singleToken, ...singleIdentity };
    }
    const inst = await installations?.getFresh(tenantId);
    if (!inst) return undefined;
    return { token: inst.botToken, teamId: inst.teamId, botUserId: inst.botUserId, botId: inst.botId };
  };

  /**
   * Bolt's authorize hook, on the path of every delivery before its ack: it never waits for the
   * Web API on behalf of the single-workspace token. That token's identity fields are filled once
   * auth.test has answered; with OAuth too and the env token's team still unknown, the tenant is
   * decided after the ack ({@link resolveCtx}).
   */
  const authorize = async (src: AuthorizeSourceData<boolean>): Promise<AuthorizeResult> => {
    const team = src.isEnterpriseInstall
      ? (src.enterpriseId ?? src.teamId)
      : (src.teamId ?? src.enterpriseId);
    if (singleToken && oauthOn && team && !singleIdentity && !identityGaveUp) {
      return { teamId: src.teamId, enterpriseId: src.enterpriseId, atomDeferredTeam: team };
    }
    const tenantId = tenantOf(team);
    const cred = await credentialsFor(tenantId);
    if (!cred) throw new Error(`no Slack installation for team ${team ?? "(unknown)"}`);
    return {
      botToken: cred.token,
      botUserId: cred.botUserId,
      botId: cred.botId,
      teamId: src.teamId ?? cred.teamId,
      enterpriseId: src.enterpriseId,
      tenantId,
    };
  };

  /** Records that a tenant's token stopped working. */
  const noteApiError = async (tenantId: string, err: unknown, what: string) => {
    const code = errorCode(err);
    if (code && AUTH_ERRORS.has(code)) {
      log.error({ tenantId, code, what }, "slack token rejected; installation marked broken");
      if (tenantId === DEFAULT_TENANT && singleToken) defaultBroken = code;
      else await installations?.markBroken(tenantId, code).catch(() => {});
    }
    return code;
  };

  // --- Bolt app ---
  const receiver = socketMode
    ? undefined
    : new HonoSlackReceiver({
        signingSecret: env.SLACK_SIGNING_SECRET as string,
        logger: log,
        nowSeconds: opts.nowSeconds,
      });
  const app = new App({
    ...(receiver ? { receiver } : { socketMode: true, appToken: env.SLACK_APP_TOKEN }),
    authorize,
    logger: blogger,
    clientOptions,
    ignoreSelf: true,
  });
  app.error(async (err) => {
    log.error({ err }, "slack listener failed");
  });

  const emails = new Map<string, { email?: string; until: number }>();
  const emailOf = async (ctx: AtomContext, userId: string): Promise<string | undefined> => {
    const key = `${ctx.tenantId}:${userId}`;
    const hit = emails.get(key);
    if (hit && hit.until > Date.now()) return hit.email;
    try {
      const r = await clientFor(ctx.botToken).users.info({ user: userId });
      const email = r.user?.profile?.email?.toLowerCase() || undefined;
      if (emails.size > 10_000) emails.clear();
      emails.set(key, { email, until: Date.now() + 15 * 60_000 });
      return email;
    } catch (err) {
      const code = await noteApiError(ctx.tenantId, err, "users.info");
      log.warn({ code }, "users.info failed; answering without the asker's e-mail");
      emails.set(key, { email: undefined, until: Date.now() + 60_000 });
      return undefined;
    }
  };

  const loggedThreadErrors = new Set<string>();
  /** Posts rendered messages in a thread; false when Slack refused (already logged). */
  const postInThread = async (
    ctx: AtomContext,
    channel: string,
    threadTs: string | undefined,
    messages: SlackMessage[],
    ephemeralUser?: string,
  ): Promise<string | undefined> => {
    const client = clientFor(ctx.botToken);
    let first: string | undefined;
    for (const m of messages) {
      try {
        if (ephemeralUser) {
          const r = await client.chat.postEphemeral({
            channel,
            user: ephemeralUser,
            thread_ts: threadTs,
            text: m.text,
            blocks: m.blocks,
          });
          first ??= r.message_ts;
        } else {
          const r = await client.chat.postMessage({
            channel,
            thread_ts: threadTs,
            text: m.text,
            blocks: m.blocks,
            unfurl_links: false,
            unfurl_media: false,
          });
          first ??= r.ts;
        }
      } catch (err) {
        const code = await noteApiError(ctx.tenantId, err, "chat.postMessage");
        const key = `${ctx.tenantId}:${channel}:${threadTs ?? ""}:${code ?? "error"}`;
        if (!loggedThreadErrors.has(key)) {
          if (loggedThreadErrors.size > 5000) loggedThreadErrors.clear();
          loggedThreadErrors.add(key);
          if (code === "thread_not_found")
            log.warn(
              { channel, threadTs },
              "thread_not_found: reply dropped, not posted to the channel root",
            );
          else
            log.error(
              { channel, threadTs, code: code ?? "request_failed", err: code ? undefined : err },
              "posting to slack failed",
            );
        }
        return first;
      }
    }
    return first;
  };

  const react = async (ctx: AtomContext, method: "add" | "remove", channel: string, ts: string) => {
    try {
      await clientFor(ctx.botToken).reactions[method]({ channel, timestamp: ts, name: WORKING_REACTION });
    } catch (err) {
      const code = await noteApiError(ctx.tenantId, err, `reactions.${method}`);
      log.debug({ code }, "working reaction failed");
    }
  };

  // --- loop guard ---
  const guard = opts.loopGuard ?? { max: 10, windowMs: 10 * 60_000 };
  const replies = new Map<string, number[]>();
  const underLoopCap = (key: string) => {
    const now = Date.now();
    const list = (replies.get(key) ?? []).filter((t) => now - t < guard.windowMs);
    if (list.length >= guard.max) {
      replies.set(key, list);
      return false;
    }
    list.push(now);
    replies.set(key, list);
    if (replies.size > 10_000) {
      for (const [k, v] of replies) if (v.every((t) => now - t >= guard.windowMs)) replies.delete(k);
    }
    return true;
  };

  const allowedBots = new Set(
    (env.SLACK_ALLOWED_BOT_IDS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

  const filesOf = (ctx: AtomContext, files: unknown): ChatFile[] => {
    if (!Array.isArray(files)) return [];
    return files
      .filter((f): f is SlackFile => Boolean(f) && typeof (f as SlackFile).id === "string")
      .map((f) => {
        const url = f.url_private_download ?? f.url_private;
        const file: ChatFile = {
          id: f.id,
          name: f.name ?? f.title ?? f.id,
          mimetype: f.mimetype,
          subtype: f.subtype,
          filetype: f.filetype,
          size: f.size,
          downloadUrl: url,
          durationSeconds: typeof f.duration_ms === "number" ? f.duration_ms / 1000 : undefined,
        };
        if (url) file.download = () => downloadFile(url, ctx.botToken, slackApiUrl);
        return file;
      });
  };

  const workSlots = new Semaphore(opts.maxConcurrentAnswers ?? 16);
  const workingSignalAfterMs = opts.workingSignalAfterMs ?? 400;

  /** The conversation flow shared by app_mention and message events. */
  const onMessage = async (
    context: Record<string, unknown>,
    event: SlackMessageEvent,
    kind: "mention" | "message",
  ) => {
    // Bolt has acked; let the HTTP response go out before any database or Web API work starts.
    await new Promise((resolve) => setImmediate(resolve));
    const ctx = await resolveCtx(context, true);
    if (!ctx) return;
    if (!USER_SUBTYPES.has(event.subtype) && event.subtype !== "bot_message") return;
    if (event.bot_id || event.subtype === "bot_message") {
      if (event.bot_id && event.bot_id === ctx.botId) return;
      if (!event.bot_id || !allowedBots.has(event.bot_id)) return;
    }
    if (!isAddressed(event)) return;
    if (event.user && event.user === ctx.botUserId) return;
    const isDirect = event.channel_type === "im";
    const rawText = event.text ?? "";
    const mentionsBot =
      kind === "mention" || (ctx.botUserId ? rawText.includes(`<@${ctx.botUserId}`) : false);
    const threadTs = event.thread_ts ?? event.ts;
    if (kind === "message" && !isDirect && !mentionsBot) {
      if (!event.thread_ts) return;
      const inThread = await bot.isInThread({
        tenantId: ctx.tenantId,
        platform: "slack",
        channelId: event.channel,
        threadId: event.thread_ts,
      });
      if (!inThread) return;
    }
    const identity = { platform: "slack", tenantId: ctx.tenantId, key: `${event.channel}:${event.ts}` };
    const release = await workSlots.acquire();
    try {
      await answerMessage(ctx, event, identity, { isDirect, mentionsBot, threadTs, rawText });
    } finally {
      release();
    }
  };

  /** Claims the message and answers it in its thread (runs inside a work slot). */
  const answerMessage = async (
    ctx: AtomContext,
    event: SlackMessageEvent & { channel: string; ts: string },
    identity: { platform: string; tenantId: string; key: string },
    m: { isDirect: boolean; mentionsBot: boolean; threadTs: string; rawText: string },
  ) => {
    const { isDirect, mentionsBot, threadTs, rawText } = m;
    if (!(await claimEvent(db, identity))) return;
    try {
      if (!underLoopCap(`${ctx.tenantId}:${event.channel}:${threadTs}`)) {
        log.warn(
          { channel: event.channel, threadTs },
          "loop guard: too many replies in this thread; not answering",
        );
        return;
      }
      const userId = event.user ?? event.bot_id ?? "unknown";
      const msg: ChatMessage = {
        platform: "slack",
        tenantId: ctx.tenantId,
        channelId: event.channel,
        threadId: threadTs,
        messageId: event.ts,
        userId,
        userEmail: isDirect && event.user ? await emailOf(ctx, event.user) : undefined,
        text: slackToPlain(rawText, ctx.botUserId),
        files: filesOf(ctx, event.files),
        isDirect,
        mentionsBot,
        visibility: "thread",
      };
      // The working signal appears only when the answer takes a moment (no flicker, fewer calls).
      let reacted: Promise<void> | undefined;
      const signal = setTimeout(() => {
        reacted = react(ctx, "add", event.channel, event.ts);
      }, workingSignalAfterMs);
      try {
        const send = (r: Reply) =>
          postInThread(
            ctx,
            event.channel as string,
            threadTs,
            renderReply(r),
            r.visibility === "ephemeral" && !isDirect ? userId : undefined,
          );
        let reply: Reply;
        try {
          reply = await bot.handle(msg, {
            progress: async (r) => {
              await send(r);
            },
          });
        } catch (err) {
          log.error({ err }, "bot failed to answer a slack message");
          await postInThread(ctx, event.channel, threadTs, [
            renderNotice("Sorry, something went wrong while answering. Please try again."),
          ]);
          return;
        }
        await send(reply);
      } finally {
        clearTimeout(signal);
        if (reacted) {
          await reacted;
          await react(ctx, "remove", event.channel, event.ts);
        }
      }
    } finally {
      await completeEvent(db, identity).catch((err: unknown) =>
        log.error({ err }, "could not mark slack event done"),
      );
    }
  };

  /**
   * The Atom context of a delivery, resolved after the ack: decides the tenant when authorize
   * deferred it, and (with `needsIdentity`) waits for the single-workspace bot identity so own
   * messages, mentions and the mention text are recognised. Undefined when the team has no
   * installation (logged).
   */
  const resolveCtx = async (
    context: Record<string, unknown>,
    needsIdentity: boolean,
  ): Promise<AtomContext | undefined> => {
    try {
      if (typeof context.atomDeferredTeam === "string") {
        await waitForIdentity();
        const tenantId = tenantOf(context.atomDeferredTeam);
        const cred = await credentialsFor(tenantId);
        if (!cred) {
          log.warn(
            { teamId: context.atomDeferredTeam },
            "no Slack installation for this team; delivery ignored",
          );
          return undefined;
        }
        return { tenantId, botToken: cred.token, botUserId: cred.botUserId, botId: cred.botId };
      }
      if (typeof context.botToken !== "string" || typeof context.tenantId !== "string") return undefined;
      const ctx: AtomContext = {
        tenantId: context.tenantId,
        botToken: context.botToken,
        botUserId: typeof context.botUserId === "string" ? context.botUserId : undefined,
        botId: typeof context.botId === "string" ? context.botId : undefined,
      };
      if (ctx.tenantId === DEFAULT_TENANT && singleToken && !ctx.botUserId) {
        const id = needsIdentity ? await waitForIdentity() : singleIdentity;
        ctx.botUserId = id?.botUserId;
        ctx.botId = id?.botId;
      }
      return ctx;
    } catch (err) {
      log.error({ err }, "could not resolve the slack installation of a delivery");
      return undefined;
    }
  };

  app.event("app_mention", async ({ event, context }) => {
    await onMessage(context, event as unknown as SlackMessageEvent, "mention");
  });
  app.event("message", async ({ event, context }) => {
    await onMessage(context, event as unknown as SlackMessageEvent, "message");
  });

  // --- uninstall ---
  const purgeTeam = async (tenantId: string, why: string) => {
    if (tenantId === DEFAULT_TENANT) {
      // The default tenant's documents come from the environment (ATOM_DOCS_DIR): keep them.
      defaultBroken = why;
      log.warn({ why }, "slack app removed from the single workspace; SLACK_BOT_TOKEN no longer works");
      return;
    }
    await installations?.delete(tenantId);
    for (const table of ["processed_events", "slack_shares", "thread_turns", "answers", "feedback"]) {
      await db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]).catch((err: unknown) => {
        log.error({ err, table }, "purge of slack tenant data failed");
      });
    }
    await deps.memory.purgeTenant(tenantId);
    await db
      .query("INSERT INTO audit_log (tenant_id, actor, action, detail) VALUES ($1, $2, $3, $4::jsonb)", [
        tenantId,
        "slack",
        "slack.uninstalled",
        JSON.stringify({ reason: why }),
      ])
      .catch(() => {});
    log.info({ tenantId, why }, "slack workspace removed; its installation, events and memory were purged");
  };
  app.event("app_uninstalled", async ({ context, body }) => {
    await purgeTeam(
      tenantOf((context.teamId as string | undefined) ?? (body as { team_id?: string }).team_id),
      "app_uninstalled",
    );
  });
  app.event("tokens_revoked", async ({ event, context, body }) => {
    const bots = (event as { tokens?: { bot?: string[] } }).tokens?.bot ?? [];
    if (bots.length === 0) return;
    await purgeTeam(
      tenantOf((context.teamId as string | undefined) ?? (body as { team_id?: string }).team_id),
      "tokens_revoked",
    );
  });

  // --- /atom ---
  const commandWindowMs = opts.commandDedupeMs ?? 30_000;
  app.command(/.*/, async ({ command, ack, context }) => {
    await ack({ response_type: "ephemeral", text: "Working on it…" });
    const ctx = await resolveCtx(context, true);
    if (!ctx) return;
    const text = command.text ?? "";
    const digest = crypto.createHash("sha256").update(text.trim().toLowerCase()).digest("hex").slice(0, 32);
    const key = `cmd:${command.channel_id}:${command.user_id}:${digest}`;
    if (!(await claimWindow(db, ctx.tenantId, key, commandWindowMs))) {
      log.info("duplicate /atom command within the dedupe window; ignored");
      return;
    }
    const responseUrl = command.response_url;
    const isDirect = command.channel_name === "directmessage" || command.channel_id.startsWith("D");
    const msg: ChatMessage = {
      platform: "slack",
      tenantId: ctx.tenantId,
      channelId: command.channel_id,
      threadId: `command:${command.trigger_id}`,
      messageId: command.trigger_id,
      userId: command.user_id,
      userEmail: await emailOf(ctx, command.user_id),
      text: slackToPlain(text, ctx.botUserId),
      files: [],
      isDirect,
      mentionsBot: true,
      visibility: "ephemeral",
    };
    const respondWith = async (messages: SlackMessage[], first: boolean) => {
      for (const [i, m] of messages.entries()) {
        await postResponseUrl(responseUrl, {
          response_type: "ephemeral",
          replace_original: first && i === 0,
          text: m.text,
          blocks: m.blocks,
        }).catch((err: unknown) => log.error({ err }, "posting to response_url failed"));
      }
    };
    let reply: Reply;
    try {
      reply = await bot.handle(msg, { progress: (r) => respondWith(renderReply(r), false) });
    } catch (err) {
      log.error({ err }, "bot failed to answer /atom");
      await respondWith(
        [renderNotice("Sorry, something went wrong while answering. Please try again.")],
        true,
      );
      return;
    }
    let shareId: string | undefined;
    if (reply.intent !== "help" && reply.intent !== "status") {
      shareId = randomToken(12);
      const shared = renderReply(reply, {
        withoutActions: true,
        footer: `Shared by <@${command.user_id}> with /atom`,
      });
      await db.query(
        `INSERT INTO slack_shares (share_id, tenant_id, channel_id, user_id, text, blocks)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
        [
          shareId,
          ctx.tenantId,
          command.channel_id,
          command.user_id,
          shared[0]?.text ?? "",
          JSON.stringify(shared),
        ],
      );
    }
    await respondWith(renderReply(reply, { shareId }), true);
  });

  // --- buttons ---
  app.action(/.*/, async ({ ack, action, body, context }) => {
    await ack();
    if (action.type !== "button") return;
    const ctx = await resolveCtx(context, false);
    if (!ctx) return;
    const b = body as BlockActionBody;
    const userId = b.user?.id ?? "unknown";
    const responseUrl = b.response_url;
    const tell = async (text: string) => {
      if (!responseUrl) return;
      const m = renderNotice(text);
      await postResponseUrl(responseUrl, {
        response_type: "ephemeral",
        replace_original: false,
        text: m.text,
        blocks: m.blocks,
      }).catch((err: unknown) => log.warn({ err }, "posting to response_url failed"));
    };
    const { action_id: actionId, value = "" } = action as { action_id?: string; value?: string };
    if (actionId === "feedback_up" || actionId === "feedback_down") {
      if (!value) return;
      const fresh = await bot.recordFeedback({
        tenantId: ctx.tenantId,
        platform: "slack",
        answerId: value,
        userId,
        rating: actionId === "feedback_up" ? "up" : "down",
      });
      await tell(fresh ? "Thanks — your feedback was recorded." : "You already rated this answer.");
      return;
    }
    if (actionId === "share_in_channel") {
      const r = await db.query<{ channel_id: string; blocks: SlackMessage[] | string }>(
        `UPDATE slack_shares SET shared_at = now()
         WHERE share_id = $1 AND tenant_id = $2 AND user_id = $3 AND shared_at IS NULL
         RETURNING channel_id, blocks`,
        [value, ctx.tenantId, userId],
      );
      const row = r.rows[0];
      if (!row) {
        await tell("This answer was already shared.");
        return;
      }
      const messages = (
        typeof row.blocks === "string" ? JSON.parse(row.blocks) : row.blocks
      ) as SlackMessage[];
      const ts = await postInThread(ctx, row.channel_id, undefined, messages);
      if (!ts) {
        await db.query("UPDATE slack_shares SET shared_at = NULL WHERE share_id = $1", [value]);
        await tell("I couldn't post in this channel. Invite me to the channel first, then try again.");
        return;
      }
      if (responseUrl) await postResponseUrl(responseUrl, { delete_original: true }).catch(() => {});
    }
  });

  // --- status lines ---
  bot.addStatusContributor(async (tenantId) => {
    if (tenantId === DEFAULT_TENANT && singleToken) {
      return [
        defaultBroken
          ? `Slack: not working (${defaultBroken}). Check SLACK_BOT_TOKEN.`
          : "Slack: connected (single workspace).",
      ];
    }
    const inst = await installations?.get(tenantId);
    if (!inst) return [];
    if (inst.status === "broken") {
      const where = config.publicUrl
        ? `${config.publicUrl.replace(/\/$/, "")}/slack/install`
        : "/slack/install";
      return [`Slack: installation broken (${inst.brokenReason ?? "unknown"}). Reinstall Atom at ${where}.`];
    }
    return [`Slack: installed in ${inst.teamName ?? inst.teamId ?? tenantId}.`];
  });

  // --- proactive sends ---
  const messenger: Messenger = {
    platform: "slack",
    async send(target: ConversationTarget, reply: Reply) {
      const cred = await credentialsFor(target.tenantId);
      if (!cred) throw new Error(`no Slack installation for tenant ${target.tenantId}`);
      const client = clientFor(cred.token);
      // A direct message goes to the person's IM channel: Slack opens it from the user id.
      const channel = target.channelId ?? target.userId;
      if (!channel) throw new Error("a Slack message needs a channel or a user");
      let first: string | undefined;
      for (const m of renderReply(reply)) {
        try {
          const r = await client.chat.postMessage({
            channel,
            thread_ts: target.threadId,
            text: m.text,
            blocks: m.blocks,
            unfurl_links: false,
          });
          first ??= r.ts;
        } catch (err) {
          const code = await noteApiError(target.tenantId, err, "chat.postMessage");
          throw new Error(`Slack refused the message (${code ?? "request failed"})`);
        }
      }
      return { messageId: first ?? "" };
    },
  };

  if (socketMode) {
    app.start().catch((err: unknown) => log.error({ err }, "slack socket mode failed to start"));
  }

  const stateSecret =
    env.SLACK_STATE_SECRET ?? (masterKey ? hmacHex(masterKey, "atom:slack-oauth-state") : randomToken(32));

  return {
    app,
    installations,
    messenger,
    routes(hono: Hono) {
      receiver?.mount(hono);
      if (oauthOn && installations) {
        mountSlackOAuth(hono, {
          clientId: env.SLACK_CLIENT_ID as string,
          clientSecret: env.SLACK_CLIENT_SECRET as string,
          states: createOAuthStateStore(db, {
            secret: stateSecret,
            ttlMs: (opts.stateTtlSeconds ?? 600) * 1000,
          }),
          installations,
          client: anonClient,
          logger: log,
          publicUrl: config.publicUrl,
          stateTtlSeconds: opts.stateTtlSeconds,
        });
      }
    },
    async close() {
      closed = true;
      if (identityTimer) clearTimeout(identityTimer);
      releaseIdentityWaiters();
      if (socketMode) await app.stop().catch(() => {});
    },
  };
}

/**
 * Claims `key` for `windowMs`: succeeds when the key is new or its previous claim is older than
 * the window (one row in `processed_events`, atomically, across replicas).
 */
async function claimWindow(db: Db, tenantId: string, key: string, windowMs: number): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO processed_events (platform, tenant_id, event_key, status) VALUES ('slack', $1, $2, 'done')
     ON CONFLICT (platform, tenant_id, event_key) DO UPDATE SET created_at = now(), claimed_at = now()
     WHERE processed_events.created_at < now() - ($3::double precision * interval '1 millisecond')
     RETURNING event_key`,
    [tenantId, key, windowMs],
  );
  return r.rowCount > 0;
}

/** POSTs a JSON message to a `response_url` (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses). */
async function postResponseUrl(url: string, body: Record<string, unknown>): Promise<void> {
  if (!/^https?:\/\//.test(url)) throw new Error("response_url is not an http(s) URL");
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}`);
}

/**
 * Downloads a Slack file with the installation's bot token (`Authorization: Bearer`). The token
 * is only sent to Slack's own hosts (or the configured SLACK_API_URL host). Slack answers a
 * missing or wrong token with an HTML login page and status 200: that is an error here.
 * @throws Error with a short reason (never the token).
 */
export async function downloadFile(url: string, token: string, slackApiUrl: string): Promise<Buffer> {
  const target = new URL(url);
  const api = new URL(slackApiUrl);
  const trusted =
    target.hostname === "slack.com" || target.hostname.endsWith(".slack.com") || target.host === api.host;
  if (!trusted) throw new Error(`refusing to send the Slack token to ${target.host}`);
  const res = await fetch(target, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) {
    await res.arrayBuffer().catch(() => undefined);
    throw new Error(`Slack file download failed: HTTP ${res.status}`);
  }
  const type = res.headers.get("content-type") ?? "";
  const bytes = Buffer.from(await res.arrayBuffer());
  if (type.includes("text/html")) {
    throw new Error("Slack returned a web page instead of the file (is the files:read scope granted?)");
  }
  return bytes;
}

/**
 * A short, token-free reason for a failed Web API call: Slack's error code, the HTTP status, or
 * the network error (e.g. `fetch failed: ECONNREFUSED`, `timeout of 5000ms exceeded`).
 */
function describeApiError(err: unknown): string {
  const code = errorCode(err);
  if (code) return code;
  const e = err as { statusCode?: unknown; original?: unknown; message?: unknown } | undefined;
  if (typeof e?.statusCode === "number") return `HTTP ${e.statusCode}`;
  const original = e?.original as
    | { message?: unknown; code?: unknown; cause?: { code?: unknown } }
    | undefined;
  const base = typeof original?.message === "string" ? original.message : String(e?.message ?? err);
  const netCode = original?.cause?.code ?? original?.code;
  return scrubSecrets(typeof netCode === "string" && !base.includes(netCode) ? `${base}: ${netCode}` : base);
}

function errorCode(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === "string" ? data.error : undefined;
}

/** Whether an event names a conversation and a message (narrows the type). */
function isAddressed(e: SlackMessageEvent): e is SlackMessageEvent & { channel: string; ts: string } {
  return typeof e.channel === "string" && typeof e.ts === "string";
}

/** A counting semaphore: bounds how many answers run at once. */
class Semaphore {
  private waiters: (() => void)[] = [];
  private free: number;

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.free > 0) {
      this.free -= 1;
    } else {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next();
      else this.free += 1;
    };
  }
}

/** The fields of a Slack message/app_mention event Atom reads. */
interface SlackMessageEvent {
  type: string;
  subtype?: string;
  channel?: string;
  channel_type?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  ts?: string;
  thread_ts?: string;
  files?: unknown;
}

/** The fields of a Slack file object Atom reads. */
interface SlackFile {
  id: string;
  name?: string;
  title?: string;
  mimetype?: string;
  subtype?: string;
  filetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  duration_ms?: number;
}

interface BlockActionBody {
  user?: { id?: string };
  response_url?: string;
  channel?: { id?: string };
}
