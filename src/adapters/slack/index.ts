/**
 * Atom's Slack adapter, composed from small parts (DESIGN.md, Layout → adapters/slack):
 * - routes.ts — the Request URL as a Hono sub-app (signature over the raw body, content type);
 * - intake.ts + payloads.ts — the ack path: zod-checked payloads, identity, one job row, ack;
 * - conversation.ts + normalise.ts — the worker side of the core pipeline (toTurn/send/…);
 * - format.ts — Block Kit rendering; send.ts — Web API posting, response_url, downloads;
 * - credentials.ts + identity.ts — tokens, installations and bot identity (cached, refreshed in
 *   the background); install.ts — OAuth installs; lifecycle.ts — uninstall purge;
 * - status.ts — status lines and readiness from real auth.test results; socket.ts — Socket Mode.
 */
import { webApi } from "@slack/bolt";
import { Hono } from "hono";
import type { Bot } from "../../bot/types.ts";
import type { Config } from "../../config.ts";
import { createAuditor } from "../../core/audit.ts";
import type { Conversations } from "../../core/conversation.ts";
import type { Messenger } from "../../core/ports.ts";
import type { Shares } from "../../core/share.ts";
import type { JobWorker } from "../../core/worker.ts";
import { SlackInstallationRepo } from "../../db/slack-installations.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import {
  createSealer,
  hmacHex,
  loadMasterKey,
  parsePreviousKeys,
  randomToken,
} from "../../security/crypto.ts";
import { createOAuthStateStore } from "../../security/oauth-state.ts";
import type { ReadinessCheck, RouteMounter } from "../../server/app.ts";
import { boltLogger } from "./bolt-logger.ts";
import { SlackConversation } from "./conversation.ts";
import { SlackCredentials } from "./credentials.ts";
import { SingleWorkspaceIdentity } from "./identity.ts";
import { slackInstallOffRoutes, slackInstallRoutes } from "./install.ts";
import { createIntake, SLACK_LIFECYCLE_QUEUE } from "./intake.ts";
import { lifecycleHandler, type TenantPurger } from "./lifecycle.ts";
import { slackEventRoutes } from "./routes.ts";
import { SlackSender } from "./send.ts";
import { startSocketMode } from "./socket.ts";
import { slackReadiness, slackStatusLines } from "./status.ts";

export { SlackCredentials, type SlackInstallation, tenantForTeam } from "./credentials.ts";
export { escapeMrkdwn, renderReply, slackToPlain, splitMrkdwn } from "./format.ts";
export { SLACK_BOT_SCOPES, slackInstallOffRoutes } from "./install.ts";
export type { TenantPurger } from "./lifecycle.ts";
export { parseSlackBody, verifySlackSignature } from "./routes.ts";
export { downloadFile } from "./send.ts";

/** Tunables, mostly for tests. */
export interface SlackAdapterOptions {
  /** Identical `/atom` commands from one person in one channel within this window run once (default 30 s). */
  commandDedupeMs?: number;
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
  /** How long a job waits for the bot identity before going on without it, ms (default 60,000). */
  identityWaitMs?: number;
}

/** What the Slack adapter needs from the rest of Atom. */
export interface SlackAdapterDeps {
  config: Config;
  db: Db;
  /** The pipeline inbound deliveries are accepted into (this adapter registers on it). */
  conversations: Conversations;
  /** The job worker (the adapter's lifecycle queue is registered on it). */
  jobs: JobWorker;
  /** For status lines. */
  bot: Pick<Bot, "addStatusContributor">;
  memory: TenantPurger;
  /** "Share in channel" for `/atom` answers (absent: no share button). */
  shares?: Shares;
  /**
   * Told the installer's e-mail after an OAuth install (from `users.info` with the new bot
   * token), so the workspace's organisation domain is known without configuration.
   */
  onInstalledBy?: (tenantId: string, installerEmail: string) => Promise<unknown>;
  logger: Logger;
  options?: SlackAdapterOptions;
}

/** A running Slack adapter. */
export interface SlackAdapter {
  /** Mounts `/slack/events` (HTTP mode) and the OAuth routes (when configured) under `/slack`. */
  routes: RouteMounter;
  /** Proactive posting for workflows, jobs and shared answers. */
  messenger: Messenger;
  /** The `slack` part of `/readyz`. */
  readiness: ReadinessCheck;
  /** Tokens, installations and the bot identity. */
  credentials: SlackCredentials;
  /** Stops Socket Mode and timers. */
  close(): Promise<void>;
}

export { slackConfigured } from "./configured.ts";

/**
 * Builds Atom's Slack adapter: the Request URL (or Socket Mode when `SLACK_APP_TOKEN` is set)
 * with either the single-workspace token (`SLACK_BOT_TOKEN`, tenant "default") or OAuth
 * installations (`SLACK_CLIENT_ID`/`SLACK_CLIENT_SECRET`, tenant `slack:<team_id>`), or both.
 * Registers itself on the conversation pipeline; every Web API call uses the team's own token
 * and `SLACK_API_URL`.
 * @throws Error naming the missing setting when the configuration is incomplete.
 */
export function createSlackAdapter(deps: SlackAdapterDeps): SlackAdapter {
  const { config, db, logger } = deps;
  const env = config.env;
  const opts = deps.options ?? {};
  const log = logger.child({ component: "slack" });
  const singleToken = env.SLACK_BOT_TOKEN;
  const oauthOn = Boolean(env.SLACK_CLIENT_ID || env.SLACK_CLIENT_SECRET);
  if (oauthOn && !(env.SLACK_CLIENT_ID && env.SLACK_CLIENT_SECRET)) {
    throw new Error("SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be set together for Slack OAuth installs");
  }
  if (!singleToken && !oauthOn) {
    throw new Error(
      "Slack needs SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET (OAuth)",
    );
  }
  if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
    throw new Error("SLACK_SIGNING_SECRET is required to receive Slack events over HTTP");
  }

  const slackApiUrl = env.SLACK_API_URL
    ? `${env.SLACK_API_URL.replace(/\/$/, "")}/`
    : "https://slack.com/api/";
  const clientOptions: webApi.WebClientOptions = {
    slackApiUrl,
    logger: boltLogger(logger),
    retryConfig: opts.retryConfig ?? { retries: 3, factor: 2, minTimeout: 200, maxTimeout: 5000 },
    rejectRateLimitedCalls: false,
    timeout: 30_000,
  };
  const anonClient = new webApi.WebClient(undefined, clientOptions);

  let masterKey: Buffer | undefined;
  let installations: ConstructorParameters<typeof SlackCredentials>[0]["installations"];
  if (oauthOn) {
    masterKey = loadMasterKey({ envKey: env.ATOM_ENCRYPTION_KEY, dataDir: config.dataDir, logger });
    installations = {
      repo: new SlackInstallationRepo(db),
      sealer: createSealer(masterKey, parsePreviousKeys(env.ATOM_ENCRYPTION_KEY_PREVIOUS)),
      client: new webApi.WebClient(undefined, {
        ...clientOptions,
        logger: boltLogger(logger, { quiet: true }),
      }),
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
    };
  }
  const credentials = new SlackCredentials({
    logger: log,
    installations,
    single: singleToken
      ? {
          token: singleToken,
          identity: new SingleWorkspaceIdentity(
            singleToken,
            slackApiUrl,
            { ...clientOptions, logger: boltLogger(logger, { quiet: true }) },
            log,
            { timeoutMs: opts.identityTimeoutMs, retry: opts.identityRetry },
          ),
        }
      : undefined,
  });
  const allowedBots = new Set(
    (env.SLACK_ALLOWED_BOT_IDS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const sender = new SlackSender(clientOptions, credentials, log);
  const conversation = new SlackConversation({
    db,
    credentials,
    sender,
    shares: deps.shares,
    slackApiUrl,
    allowedBots,
    logger: log,
    options: { commandDedupeMs: opts.commandDedupeMs, identityWaitMs: opts.identityWaitMs },
  });
  deps.conversations.register(conversation);
  deps.jobs.register(
    SLACK_LIFECYCLE_QUEUE,
    lifecycleHandler({
      db,
      credentials,
      memory: deps.memory,
      logger: log,
      identityWaitMs: opts.identityWaitMs ?? 60_000,
    }),
    { concurrency: 1 },
  );
  deps.bot.addStatusContributor(slackStatusLines(credentials, config.publicUrl));
  const intake = createIntake({
    conversations: deps.conversations,
    jobs: deps.jobs,
    credentials,
    allowedBots,
    logger: log,
  });
  credentials.start();

  const socket = env.SLACK_APP_TOKEN
    ? startSocketMode({ appToken: env.SLACK_APP_TOKEN, clientOptions, logger: log, intake })
    : undefined;
  const stateSecret =
    env.SLACK_STATE_SECRET ?? (masterKey ? hmacHex(masterKey, "atom:slack-oauth-state") : randomToken(32));

  return {
    messenger: conversation.messenger(),
    readiness: slackReadiness(credentials),
    credentials,
    routes(app: Hono) {
      const slack = new Hono();
      if (!socket) {
        slack.route(
          "/",
          slackEventRoutes({
            signingSecret: env.SLACK_SIGNING_SECRET as string,
            logger: log,
            intake,
            nowSeconds: opts.nowSeconds,
          }),
        );
      }
      if (oauthOn) {
        slack.route(
          "/",
          slackInstallRoutes({
            clientId: env.SLACK_CLIENT_ID as string,
            clientSecret: env.SLACK_CLIENT_SECRET as string,
            states: createOAuthStateStore(db, {
              secret: stateSecret,
              ttlMs: (opts.stateTtlSeconds ?? 600) * 1000,
            }),
            installations: credentials,
            client: anonClient,
            logger: log,
            audit: createAuditor(db, log),
            publicUrl: config.publicUrl,
            stateTtlSeconds: opts.stateTtlSeconds,
            onInstalledBy: deps.onInstalledBy,
          }),
        );
      } else slack.route("/", slackInstallOffRoutes());
      app.route("/slack", slack);
    },
    async close() {
      credentials.close();
      await socket?.stop();
    },
  };
}
