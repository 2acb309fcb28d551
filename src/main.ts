import path from "node:path";
import { serve as serveHttp, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import type { BotFrameworkEndpoints } from "./adapters/teams/auth.ts";
import { type Conversations, createConversations } from "./core/conversation.ts";
import type { Messenger, Platform } from "./core/ports.ts";
import { createGaugeSource } from "./core/gauges.ts";
import { scheduleRetention } from "./core/maintenance.ts";
import { registerOperations } from "./core/operations.ts";
import { createRateLimiter } from "./core/rate-limits.ts";
import { createShares } from "./core/share.ts";
import { JobWorker } from "./core/worker.ts";
import { createBot } from "./bot/core.ts";
import type { Bot } from "./bot/types.ts";
import { type Config, DEFAULT_TENANT } from "./config.ts";
import { checkDocsDir, prepareDataDir } from "./data-dir.ts";
import { type Db, migrate, openDb } from "./db/index.ts";
import { JobStore } from "./db/jobs.ts";
import { DEFAULT_RETENTION } from "./db/retention.ts";
import { type ConnectionService, createConnections, type MicrosoftTestOptions } from "./connections/index.ts";
import { OrgDomains, parseOrgDomains } from "./security/org-domains.ts";
import { openMemory, type Memory } from "./memory/memory.ts";
import { objectStoreOptions } from "./memory/object-store.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { startErrorReporting } from "./observability/errors.ts";
import { setGaugeSource } from "./observability/metrics.ts";
import { createApp, type ReadinessCheck, type RouteMounter } from "./server/app.ts";
import { type AdminWeb, createAdminWeb, registerSettingsCommand } from "./server/admin-session.ts";
import { mountDashboard, registerDashboardCommand } from "./server/dashboard.tsx";
import { mountSettings } from "./server/settings-page.tsx";
import { recordAudit } from "./db/audit.ts";
import { loadMasterKey } from "./security/crypto.ts";
import { type Ai, createAi, voiceKeySource } from "./ai/index.ts";
import { embeddingStatusLines, registerAiStatus } from "./ai/status.ts";
import { EMBED_QUEUE, WorkspaceEmbeddings } from "./ai/embeddings.ts";
import { runEmbedRound } from "./ai/embed-job.ts";
import { createVoiceNotes, type VoiceNotes } from "./voice/index.ts";
import { createWorkflows, type Workflows } from "./workflows/index.ts";

/** A composed Atom process: config → db → memory → bot → adapters → server (DESIGN.md, Layout). */
export interface Atom {
  config: Config;
  logger: Logger;
  db: Db;
  memory: Memory;
  bot: Bot;
  voice: VoiceNotes;
  app: Hono;
  /**
   * The durable job worker (inbound messages, syncs, workflow runs). Features register their
   * queues on it; `atom serve` starts it, one-shot commands start it when they need it.
   */
  jobs: JobWorker;
  /** Parts `/readyz` reports; features may add theirs. */
  readiness: ReadinessCheck[];
  /** The conversation pipeline adapters hand inbound deliveries to (DESIGN.md, Core flows). */
  conversations: Conversations;
  /** Proactive senders by platform, for workflows and jobs. */
  messengers: Map<Platform, Messenger>;
  /** Workflows: commands on the bot, the `workflow_run` queue, and the ticker `atom serve` starts. */
  workflows: Workflows;
  /** Connections (Google Drive) and their sync jobs (`sync` queue). */
  connections: ConnectionService;
  /** The tenants' own e-mail domains (public-channel rule). */
  orgDomains: OrgDomains;
  /** Bring-your-own AI keys: the key vault and generated answers. */
  ai: Ai;
  /** Embeddings per workspace: spaces, background rounds (`embed` queue), query vectors. */
  embeddings: WorkspaceEmbeddings;
  /** The admin web session: `settings` links from chat, `requireAdmin`/`checkCsrf` for admin pages. */
  admin: AdminWeb;
  /** The master key stored secrets are sealed with (ATOM_ENCRYPTION_KEY or the data-dir key file), loaded on first call. */
  masterKey(): Buffer;
  /** Stops timers and closes the database and memory. */
  close(): Promise<void>;
}

/** Something an adapter or service needs to release on shutdown. */
type Closer = () => Promise<void> | void;

/**
 * Builds every part of Atom from a validated config. Creates the data dir, runs migrations,
 * opens memory and mounts the adapters whose settings are present. Starts no network listener.
 */
export async function createAtom(
  config: Config,
  opts: {
    logger?: Logger;
    /** Mount Slack/Teams (default true; one-shot CLI commands skip them). */
    adapters?: boolean;
    /** Bot Framework and login endpoints of another cloud (or loopback fakes); default public cloud. */
    teamsEndpoints?: BotFrameworkEndpoints;
    /** OneDrive: extra CA (PEM) for sign-in and Graph, Graph retry waits (tests; production uses NODE_EXTRA_CA_CERTS). */
    microsoft?: MicrosoftTestOptions;
  } = {},
): Promise<Atom> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  prepareDataDir(config.dataDir, { writable: !config.databaseUrl });
  const pgliteDir = path.join(config.dataDir, "pglite");
  let db: Db;
  try {
    db = await openDb({ databaseUrl: config.databaseUrl, pgliteDir });
    await migrate(db);
  } catch (err) {
    const where = config.databaseUrl
      ? "the database at DATABASE_URL"
      : `the embedded database in ${pgliteDir}`;
    throw new Error(`could not open ${where}: ${firstLine(err)}`);
  }
  let memory: Memory;
  try {
    memory = await openMemory({
      db,
      uri: config.lancedbUri,
      logger,
      storageOptions: objectStoreOptions(config.lancedbUri, config.env),
    });
  } catch (err) {
    await db.close().catch(() => {});
    throw new Error(
      `could not open memory at ${config.env.LANCEDB_URI ? "LANCEDB_URI" : config.lancedbUri}: ${firstLine(err)}`,
    );
  }
  const jobs = new JobWorker(new JobStore(db), { logger: logger.child({ component: "jobs" }) });
  const orgDomains = new OrgDomains(db, parseOrgDomains(config.env.ATOM_ORG_DOMAINS));
  // The master key is loaded on first use (an Atom that never stores a secret never needs it).
  let masterKey: Buffer | undefined;
  const getMasterKey = () =>
    (masterKey ??= loadMasterKey({
      envKey: config.env.ATOM_ENCRYPTION_KEY,
      dataDir: config.dataDir,
      logger,
    }));
  const messengers = new Map<Platform, Messenger>();
  const ai = createAi({ config, db, logger, masterKey: getMasterKey, messengers });
  // Embeddings per workspace: the tenant's OpenAI key (workspace, else OPENAI_API_KEY) turns on
  // hybrid search; vectors are written by background rounds on the `embed` queue.
  const embeddings = new WorkspaceEmbeddings({
    db,
    vault: ai.vault,
    ai: ai.service,
    store: memory.store,
    config,
    logger: logger.child({ component: "embeddings" }),
    jobs,
  });
  memory.queryVectors = (tenantId) => embeddings.queryVectors(tenantId);
  memory.onChanged = (tenantId) => embeddings.offer(tenantId, "memory");
  jobs.register(EMBED_QUEUE, (job, ctx) => runEmbedRound(embeddings, job.tenantId, ctx.signal), {
    concurrency: 1,
    leaseMs: config.env.ATOM_SYNC_LEASE_SECONDS * 1000,
  });
  // Voice notes take the workspace's (or person's) Deepgram key from the vault, else DEEPGRAM_API_KEY.
  const voice = createVoiceNotes({ config, db, logger, keys: voiceKeySource(ai) });
  const limiter = createRateLimiter({
    db,
    logger,
    settings: {
      questionsPerUser: config.env.ATOM_LIMIT_QUESTIONS_PER_USER_HOUR,
      questionsPerWorkspace: config.env.ATOM_LIMIT_QUESTIONS_PER_WORKSPACE_HOUR,
      transcriptionsPerUser: config.env.ATOM_LIMIT_TRANSCRIPTIONS_PER_USER_HOUR,
      transcriptionsPerWorkspace: config.env.ATOM_LIMIT_TRANSCRIPTIONS_PER_WORKSPACE_HOUR,
    },
  });
  const bot = createBot({
    db,
    memory,
    logger,
    config,
    voice,
    orgDomains: (t) => orgDomains.forTenant(t),
    ai: ai.service,
    limiter,
  });
  const conversations = createConversations({
    bot,
    jobs,
    logger,
    options: {
      leaseMs: config.env.ATOM_INBOUND_LEASE_SECONDS * 1000,
      // The embedded database runs every query in this process, one at a time, and an ack waits
      // for its job INSERT behind the worker's queries: fewer answers at once keep that short.
      concurrency: db.kind === "pglite" ? 4 : 16,
    },
  });

  const routes: RouteMounter[] = [];
  const admin = createAdminWeb({ db, masterKey: getMasterKey, publicUrl: config.publicUrl });
  registerSettingsCommand(bot, admin);
  registerDashboardCommand(bot, admin);
  registerAiStatus(bot, ai, config, embeddings);
  routes.push((app) =>
    mountSettings(app, {
      admin,
      ai,
      audit: (entry) => recordAudit(db, logger, entry),
      onAiChanged: (tenantId, what) => {
        if (what === "openai" || what === "models") embeddings.changed(tenantId);
      },
      embeddingStatus: (tenantId) => embeddingStatusLines(embeddings, tenantId),
    }),
  );
  // "Share in channel" re-checks permissions in the core and posts through the platform's Messenger.
  const shares = createShares({ db, messengers, logger });
  bot.registerActionHandler(shares.handler);
  // Connections (Google Drive): chat commands, sign-in routes, `sync` jobs.
  const connections = createConnections({ config, db, memory, jobs, logger, messengers, orgDomains }, bot, {
    microsoft: opts.microsoft,
  });
  routes.push(connections.routes);
  const closers: Closer[] = [];
  const readiness: ReadinessCheck[] = [
    {
      name: "database",
      check: async () => {
        await db.query("SELECT 1");
      },
    },
    { name: "memory", check: () => memory.ping() },
  ];

  // --- adapters: each mounts its routes and registers its Messenger when configured ---
  // Loaded on demand: one-shot CLI commands never pay for Bolt and botbuilder.
  if (opts.adapters ?? true) {
    const { slackConfigured } = await import("./adapters/slack/configured.ts");
    if (!slackConfigured(config)) {
      logger.info(
        "Slack is off: set SLACK_SIGNING_SECRET with SLACK_BOT_TOKEN (or the OAuth settings) to enable /slack/events",
      );
      // /slack/install explains which settings turn installs on instead of a bare 404.
      const { slackInstallOffRoutes } = await import("./adapters/slack/install.ts");
      routes.push((app) => app.route("/slack", slackInstallOffRoutes()));
    }
    if (slackConfigured(config)) {
      const { createSlackAdapter } = await import("./adapters/slack/index.ts");
      const slack = createSlackAdapter({
        config,
        db,
        bot,
        memory,
        logger,
        conversations,
        jobs,
        shares,
        onInstalledBy: (tenantId, email) => orgDomains.learnFrom(tenantId, email),
      });
      routes.push(slack.routes);
      readiness.push(slack.readiness);
      messengers.set("slack", slack.messenger);
      closers.push(() => slack.close());
    }
    // botbuilder loads at start only when MICROSOFT_APP_ID is set; in local mode on first use.
    const { createTeamsSurface } = await import("./adapters/teams/lazy.ts");
    const teams = await createTeamsSurface({
      config,
      db,
      bot,
      logger,
      conversations,
      endpoints: opts.teamsEndpoints,
      purge: { jobs, memory },
    });
    routes.push(teams.routes);
    messengers.set("teams", teams.messenger);
    if (teams.readiness) readiness.push(teams.readiness);
    closers.push(() => teams.close());
  }

  const workflows = createWorkflows({
    db,
    bot,
    jobs,
    memory,
    messengers,
    logger,
    settings: {
      minIntervalSeconds: config.env.ATOM_WORKFLOW_MIN_INTERVAL_SECONDS,
      catchUpSeconds: config.env.ATOM_WORKFLOW_CATCHUP_SECONDS,
      defaultTimeZone: config.env.ATOM_WORKFLOW_DEFAULT_TIMEZONE,
      maxSleepMs: config.env.ATOM_WORKFLOW_POLL_SECONDS * 1000,
    },
  });

  registerOperations({ bot, db, memory, logger });
  routes.push((a) => mountDashboard(a, { db, memory, readiness, admin, logger }));
  const app = createApp({ logger, readiness, routes });
  const gauges = createGaugeSource({ db, jobs: jobs.store, memory });
  setGaugeSource(gauges);
  return {
    config,
    logger,
    db,
    memory,
    bot,
    voice,
    app,
    jobs,
    readiness,
    conversations,
    messengers,
    workflows,
    connections,
    orgDomains,
    admin,
    masterKey: getMasterKey,
    ai,
    embeddings,
    async close() {
      setGaugeSource(undefined, gauges);
      await workflows.stop();
      connections.stop();
      await jobs.stop();
      for (const c of closers.reverse()) await c();
      await memory.close();
      await db.close();
    },
  };
}

/**
 * Words for something thrown that is not an Error (PGlite throws `ErrnoError { errno }` objects,
 * which `String()` turns into "[object Object]").
 */
function describeThrown(err: unknown): string {
  if (typeof err !== "object" || err === null) return String(err);
  const o = err as { message?: unknown; name?: unknown; errno?: unknown; code?: unknown };
  if (typeof o.message === "string" && o.message !== "") return o.message;
  const name = typeof o.name === "string" ? o.name : "error";
  const code = o.code ?? o.errno;
  return code === undefined ? name : `${name} (${String(code)})`;
}

/** The first line of an error's message (native errors carry long chains of causes). */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : describeThrown(err);
  return message.split("\n")[0]!.slice(0, 300);
}

/** The queue that syncs the `ATOM_DOCS_DIR` folder. */
export const FOLDER_SYNC_QUEUE = "folder_sync";

/**
 * Syncs `docsDir` into the default tenant now and every `everyMs`, as durable jobs: every replica
 * offers a job per window, jobs share one singleton key, so one replica syncs the folder at a time
 * and a sync already waiting absorbs further offers. Returns a function that stops offering.
 */
function scheduleFolderSync(atom: Atom, docsDir: string, everyMs: number): () => void {
  const { jobs, memory, logger } = atom;
  jobs.register(
    FOLDER_SYNC_QUEUE,
    async () => {
      const s = await memory.syncFolder(docsDir, { tenantId: DEFAULT_TENANT });
      logger.info({ summary: { ...s, errors: s.errors.length } }, "docs folder synced");
      return { ...s, skipped: s.skipped.length, errors: s.errors.length };
    },
    { concurrency: 1, leaseMs: atom.config.env.ATOM_SYNC_LEASE_SECONDS * 1000 },
  );
  atom.readiness.push({
    name: "docs",
    critical: false,
    check: async () => {
      const [last] = await jobs.store.list<unknown>({
        queue: FOLDER_SYNC_QUEUE,
        status: ["done", "dead"],
        limit: 1,
      });
      const pending = await jobs.store.pending([FOLDER_SYNC_QUEUE]);
      if (!last) return pending > 0 ? "first sync in progress" : "no sync yet";
      if (last.status === "dead") throw new Error(`last sync failed: ${last.lastError ?? "unknown error"}`);
      return `synced at ${last.finishedAt?.toISOString()}${pending > 0 ? "; syncing again" : ""}`;
    },
  });
  const offer = () => {
    const window = Math.floor(Date.now() / everyMs) * everyMs;
    jobs
      .enqueue({
        queue: FOLDER_SYNC_QUEUE,
        tenantId: DEFAULT_TENANT,
        key: `${docsDir}@${new Date(window).toISOString()}`,
        singletonKey: `folder:${docsDir}`,
        payload: { docsDir },
        maxAttempts: 3,
      })
      .catch((err: unknown) => logger.error({ err }, "could not schedule the docs folder sync"));
  };
  offer();
  const timer = setInterval(offer, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A running server. */
export interface RunningServer {
  atom: Atom;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * `atom serve`: composes Atom, starts the job worker, listens on `config.port`, schedules retention,
 * and when `ATOM_DOCS_DIR` is set indexes that folder into the default tenant (in the background,
 * after the server listens) and re-syncs it every `ATOM_SYNC_INTERVAL_SECONDS`; every connection
 * (Google Drive) is synced as a job at the same interval.
 */
export async function startServer(
  config: Config,
  opts: { logger?: Logger; teamsEndpoints?: BotFrameworkEndpoints; microsoft?: MicrosoftTestOptions } = {},
): Promise<RunningServer> {
  // A docs folder that is not there would only show up later as failing sync jobs.
  if (config.docsDir) checkDocsDir(config.docsDir);
  const stopErrorReporting = await startErrorReporting({
    dsn: config.env.SENTRY_DSN,
    environment: config.env.SENTRY_ENVIRONMENT,
  });
  const atom = await createAtom(config, opts);
  const { logger } = atom;
  const stops: (() => void)[] = [];
  stops.push(
    scheduleRetention({
      db: atom.db,
      jobs: atom.jobs,
      logger,
      policy: {
        threadDays: config.env.ATOM_RETENTION_THREAD_DAYS,
        eventDays: config.env.ATOM_RETENTION_EVENT_DAYS,
        deadJobDays: DEFAULT_RETENTION.deadJobDays,
        runLogDays: config.env.ATOM_RETENTION_RUN_LOG_DAYS,
        auditDays: config.env.ATOM_RETENTION_AUDIT_DAYS,
      },
      table: atom.memory.store,
    }),
  );
  if (config.docsDir) stops.push(scheduleFolderSync(atom, config.docsDir, config.syncIntervalSeconds * 1000));
  // Every ATOM_SYNC_INTERVAL_SECONDS: one sync job per connection per time slot (replicas share it).
  atom.connections.startPeriodic();
  // Tenants whose key, model or chunks changed while no server ran get their vectors now.
  atom.embeddings
    .offerAll()
    .catch((err: unknown) => logger.warn({ err }, "could not offer embedding rounds at start-up"));
  // Listen first: health checks and Slack URL verification answer while the first sync runs.
  atom.jobs.start();
  atom.workflows.start();
  let server: ServerType;
  try {
    server = await listen(atom, config);
  } catch (err) {
    // Nothing may keep running after a failed start: the CLI prints one line and exits.
    for (const stop of stops) stop();
    await atom.close().catch(() => {});
    await stopErrorReporting().catch(() => {});
    throw err;
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;
  logger.info({ url }, "atom is listening");
  return {
    atom,
    url,
    port,
    async close() {
      for (const stop of stops) stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await atom.close();
      await stopErrorReporting();
    },
  };
}

/**
 * Starts the HTTP listener on `config.host:config.port`.
 * @throws Error with one readable line when the address cannot be bound (in use, not allowed,
 *   not on this machine) instead of Node's unhandled `'error'` event.
 */
function listen(atom: Atom, config: Config): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const s = serveHttp({ fetch: atom.app.fetch, port: config.port, hostname: config.host }, () => {
      s.off("error", onError);
      resolve(s);
    });
    const onError = (err: NodeJS.ErrnoException) => {
      s.close();
      reject(new Error(`could not listen on ${config.host}:${config.port}: ${listenProblem(err)}`));
    };
    s.once("error", onError);
  });
}

/** Plain words for the usual `listen` failures (EADDRINUSE, EACCES, EADDRNOTAVAIL). */
function listenProblem(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "the address is already in use (set PORT to a free port, or stop the other process)";
    case "EACCES":
      return "permission denied (ports below 1024 need privileges; set PORT to 1024 or above)";
    case "EADDRNOTAVAIL":
      return "this machine has no such address (check HOST)";
    default:
      return firstLine(err);
  }
}
