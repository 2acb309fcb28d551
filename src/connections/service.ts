import { randomUUID } from "node:crypto";
import type { Hono } from "hono";
import { makeReply, type Reply } from "../bot/reply.ts";
import type { Config } from "../config.ts";
import type { Messenger, Platform } from "../core/ports.ts";
import { type JobContext, type JobWorker, PermanentJobError, RetryJobError } from "../core/worker.ts";
import { recordAudit } from "../db/audit.ts";
import { type Connection, ConnectionStore } from "../db/connections.ts";
import type { Job } from "../db/jobs.ts";
import type { Db } from "../db/types.ts";
import { type FeedSyncSummary, SourceUnavailableError } from "../memory/feed-sync.ts";
import type { Memory } from "../memory/memory.ts";
import type { Logger } from "../observability/logger.ts";
import { ConnectLinks, type ConnectRequest } from "../security/connect-links.ts";
import { createSealer, hmacHex, loadMasterKey, parsePreviousKeys, type Sealer } from "../security/crypto.ts";
import { InvalidGrantError, OAuthError } from "../security/google-oauth.ts";
import { createOAuthStateStore, type OAuthStateStore } from "../security/oauth-state.ts";
import type { OrgDomains } from "../security/org-domains.ts";
import { userPrincipal } from "../security/permissions.ts";
import type { ConnectionProvider, ProviderContext, SyncJobPayload } from "./types.ts";
import { SYNC_QUEUE, sourceIdOf } from "./types.ts";

/** What the connections framework needs from the rest of Atom. */
export interface ConnectionsDeps {
  config: Config;
  db: Db;
  memory: Memory;
  jobs: JobWorker;
  logger: Logger;
  /** Proactive senders (the "first sync done" and "connection broken" DMs); filled by adapters. */
  messengers: Map<Platform, Messenger>;
  orgDomains: OrgDomains;
  providers: ConnectionProvider[];
}

/** A sync's outcome as stored in the job result. */
export interface SyncOutcome {
  connectionId?: string;
  status: "ok" | "broken" | "gone" | "skipped";
  summary?: Omit<FeedSyncSummary, "skipped" | "notes" | "errors"> & { skipped: number; notes: number };
}

/**
 * The connections framework (DESIGN.md, Sync): sign-in links, connections with sealed tokens,
 * syncs as durable jobs (`sync` queue, one per connection at a time across replicas through the
 * job's singleton key), reports to the owner, periodic syncs, disconnects.
 */
export class ConnectionService {
  readonly store: ConnectionStore;
  readonly ctx: ProviderContext;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private secrets: { sealer: Sealer; links: ConnectLinks; states: OAuthStateStore } | undefined;

  constructor(private readonly deps: ConnectionsDeps) {
    const { config, db } = deps;
    this.log = deps.logger.child({ component: "connections" });
    this.store = new ConnectionStore(db);
    // The master key is loaded on first use: an Atom nobody connects anything to never needs it.
    const secrets = () => {
      if (!this.secrets) {
        const masterKey = loadMasterKey({
          envKey: config.env.ATOM_ENCRYPTION_KEY,
          dataDir: config.dataDir,
          logger: deps.logger,
        });
        this.secrets = {
          sealer: createSealer(masterKey, parsePreviousKeys(config.env.ATOM_ENCRYPTION_KEY_PREVIOUS)),
          links: new ConnectLinks(this.store, hmacHex(masterKey, "atom:connect-links")),
          states: createOAuthStateStore(db, { secret: hmacHex(masterKey, "atom:connect-oauth-state") }),
        };
      }
      return this.secrets;
    };
    this.ctx = {
      store: this.store,
      get sealer() {
        return secrets().sealer;
      },
      get links() {
        return secrets().links;
      },
      get states() {
        return secrets().states;
      },
      logger: deps.logger,
      publicUrl: config.publicUrl,
      maxFileBytes: config.env.ATOM_SYNC_MAX_FILE_MB * 1024 * 1024,
      completeConnection: (input) => this.complete(input),
    };
    deps.jobs.register<SyncJobPayload>(SYNC_QUEUE, (job, jctx) => this.runJob(job, jctx), {
      concurrency: 2,
      leaseMs: 60_000,
      backoff: { minMs: 5_000, maxMs: 600_000 },
    });
  }

  get providers(): ConnectionProvider[] {
    return this.deps.providers;
  }

  /** Mounts every provider's sign-in routes. */
  routes = (app: Hono): void => {
    for (const p of this.deps.providers) p.mount(app, this.ctx);
  };

  /** The sign-in link for `req` (`PUBLIC_URL/connect/<provider>?link=…`, single use, 10 minutes). */
  async signInLink(provider: ConnectionProvider, req: ConnectRequest): Promise<string> {
    const token = await this.ctx.links.issue(provider.id, req);
    return `${(this.deps.config.publicUrl ?? "").replace(/\/$/, "")}${provider.startPath}?link=${encodeURIComponent(token)}`;
  }

  /** Stores a connection after sign-in and starts its first sync. */
  private async complete(input: Parameters<ProviderContext["completeConnection"]>[0]): Promise<Connection> {
    const { request } = input;
    const { connection } = await this.store.upsert({
      tenantId: request.tenantId,
      provider: input.provider,
      ownerPlatform: request.platform,
      ownerUserId: request.userId,
      ownerEmail: request.userEmail,
      accountEmail: input.accountEmail,
      tokensSealed: input.sealTokens,
    });
    if (request.userIsAdmin) await this.deps.orgDomains.learnFrom(request.tenantId, request.userEmail);
    await recordAudit(this.deps.db, this.log, {
      tenantId: request.tenantId,
      actor: request.userId,
      action: "connection.added",
      platform: request.platform,
      detail: { provider: input.provider, connection: connection.id, account: input.accountEmail ?? null },
    });
    await this.enqueue(connection, "connect");
    return connection;
  }

  /** Queues a sync of one connection (a sync already waiting for it absorbs this one). */
  async enqueue(
    connection: Pick<Connection, "id" | "tenantId">,
    reason: SyncJobPayload["reason"],
    key?: string,
  ) {
    return this.deps.jobs.enqueue<SyncJobPayload>({
      queue: SYNC_QUEUE,
      tenantId: connection.tenantId,
      key: key ?? `${connection.id}:${reason}:${randomUUID()}`,
      singletonKey: `connection:${connection.id}`,
      payload: { connectionId: connection.id, reason },
      maxAttempts: 10,
    });
  }

  /** Queues a sync of every active connection (for one time slot when `slot` is given: replicas share the key). */
  async enqueueAll(reason: SyncJobPayload["reason"], slot?: string): Promise<number> {
    let n = 0;
    for (const c of await this.store.list()) {
      if (c.status !== "active") continue;
      const out = await this.enqueue(c, reason, slot ? `${c.id}:${reason}:${slot}` : undefined);
      if (out.created) n++;
    }
    return n;
  }

  /**
   * Every ATOM_SYNC_INTERVAL_SECONDS, queues a sync of every connection. The job key names the
   * time slot, so N replicas queue each sync once.
   */
  startPeriodic(): void {
    const ms = this.deps.config.syncIntervalSeconds * 1000;
    const tick = () => {
      const slot = String(Math.floor(Date.now() / ms));
      this.enqueueAll("periodic", slot).catch((err: unknown) =>
        this.log.error({ err }, "queueing periodic syncs failed"),
      );
    };
    this.timer = setInterval(tick, ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Removes a connection and everything it brought into memory (audit-logged with `actor`, the
   * platform user who asked). @returns the documents removed.
   */
  async disconnect(connection: Connection, actor?: { userId: string; platform: string }): Promise<number> {
    const provider = this.provider(connection.provider);
    const sourceId = sourceIdOf(provider?.sourceKind ?? connection.provider, connection.id);
    await this.store.delete(connection.id, sourceId);
    await this.deps.memory.purgeSource(connection.tenantId, sourceId);
    await recordAudit(this.deps.db, this.log, {
      tenantId: connection.tenantId,
      actor: actor?.userId ?? connection.ownerUserId,
      action: "connection.removed",
      platform: actor?.platform ?? connection.ownerPlatform,
      detail: { provider: connection.provider, connection: connection.id, documents: connection.documents },
    });
    return connection.documents;
  }

  provider(id: string): ConnectionProvider | undefined {
    return this.deps.providers.find((p) => p.id === id);
  }

  /** The sync job handler. */
  private async runJob(job: Job<SyncJobPayload>, jctx: JobContext): Promise<SyncOutcome> {
    const { connectionId } = job.payload;
    const connection = connectionId ? await this.store.get(connectionId) : undefined;
    if (!connection) return { connectionId, status: "gone" };
    if (connection.status !== "active") return { connectionId, status: "skipped" };
    const provider = this.provider(connection.provider);
    if (!provider) return { connectionId, status: "skipped" };
    const source = await provider.createSource(connection, this.ctx);
    const log = this.log.child({ connectionId: connection.id, tenantId: connection.tenantId });
    let summary: FeedSyncSummary;
    try {
      summary = await this.deps.memory.syncFeed(source, {
        tenantId: connection.tenantId,
        cursor: connection.cursor,
        commitCursor: (cursor) => this.store.commitCursor(connection.id, cursor),
        skips: this.store,
        ownerPrincipals: ownerPrincipals(connection),
        concurrency: this.deps.config.env.ATOM_SYNC_CONCURRENCY,
        maxFileBytes: this.ctx.maxFileBytes,
        signal: jctx.signal,
      });
    } catch (err) {
      if (err instanceof InvalidGrantError) {
        const first = await this.store.markBroken(connection.id, "access was revoked or expired");
        log.warn({ first }, "connection broken: the grant was refused");
        if (first) {
          await recordAudit(this.deps.db, this.log, {
            tenantId: connection.tenantId,
            actor: "system",
            action: "connection.broken",
            platform: "system",
            detail: {
              provider: connection.provider,
              connection: connection.id,
              reason: "access was revoked or expired",
            },
          });
        }
        if (first) await this.notify(connection, brokenReply(connection, provider));
        return { connectionId: connection.id, status: "broken" };
      }
      const reason = (err as Error)?.message ?? String(err);
      if (!jctx.signal.aborted) {
        await this.store
          .recordSync(connection.id, { status: "failed", error: reason, documents: connection.documents })
          .catch(() => {});
      }
      if (err instanceof SourceUnavailableError) {
        throw new RetryJobError(reason, err.retryAfterMs ?? 60_000, { cause: err });
      }
      // A refused client (wrong GOOGLE_CLIENT_SECRET) will not pass by retrying: the next
      // periodic or manual sync tries again once an admin fixed it.
      if (err instanceof OAuthError && !err.transient) throw new PermanentJobError(reason, { cause: err });
      throw err;
    }
    if (!(await this.store.get(connection.id))) {
      // Disconnected while syncing: whatever this sync wrote goes too.
      await this.deps.memory.purgeSource(connection.tenantId, source.id);
      return { connectionId: connection.id, status: "gone" };
    }
    const skips = await this.store.skips(connection.tenantId, source.id, 10);
    await this.store.recordSync(connection.id, {
      status: skips.total > 0 ? "partial" : "ok",
      error: null,
      documents: summary.documents,
      firstSyncDone: true,
      notes: summary.notes,
    });
    log.info(
      {
        mode: summary.mode,
        added: summary.added,
        updated: summary.updated,
        aclUpdated: summary.aclUpdated,
        deleted: summary.deleted,
        fetched: summary.fetched,
        skipped: summary.skipped.length,
        ms: Math.round(summary.durationMs),
      },
      "connection synced",
    );
    if (!connection.firstSyncDoneAt) {
      const report = firstSyncReply(connection, provider, summary.documents, skips, summary.notes);
      const offer = await provider.firstSyncOffer?.(connection, this.ctx).catch(() => undefined);
      if (offer) {
        report.text = `${report.text}\n${offer.text}`;
        report.blocks.push({ type: "text", text: offer.text });
        report.actions.push(...offer.actions);
      }
      await this.notify(connection, report);
    }
    const { skipped, notes, errors: _errors, ...rest } = summary;
    return {
      connectionId: connection.id,
      status: "ok",
      summary: { ...rest, skipped: skipped.length, notes: notes.length },
    };
  }

  /**
   * Sends `reply` to a person's direct conversation with Atom.
   * @returns false when the platform has no messenger or refused (logged, never thrown).
   */
  async sendDirect(platform: string, tenantId: string, userId: string, reply: Reply): Promise<boolean> {
    const messenger = this.deps.messengers.get(platform as Platform);
    if (!messenger) return false;
    try {
      await messenger.send({ platform: platform as Platform, tenantId, userId }, reply);
      return true;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, platform }, "could not send a direct message");
      return false;
    }
  }

  /** DMs the owner of a connection; a missing or failing messenger is logged, never fatal. */
  private async notify(connection: Connection, reply: Reply): Promise<void> {
    const messenger = this.deps.messengers.get(connection.ownerPlatform as Platform);
    if (!messenger) {
      this.log.info(
        { platform: connection.ownerPlatform },
        "no messenger for the connection owner's platform; report not sent",
      );
      return;
    }
    try {
      await messenger.send(
        {
          platform: connection.ownerPlatform as Platform,
          tenantId: connection.tenantId,
          userId: connection.ownerUserId,
        },
        reply,
      );
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not message the connection owner");
    }
  }
}

/** The connecting person may always read what their connection brought in. */
export function ownerPrincipals(c: Connection): string[] {
  return [
    userPrincipal(c.ownerPlatform, c.ownerUserId),
    ...(c.ownerEmail ? [`user:${c.ownerEmail.toLowerCase()}`] : []),
    ...(c.accountEmail ? [`user:${c.accountEmail.toLowerCase()}`] : []),
  ];
}

function firstSyncReply(
  c: Connection,
  p: ConnectionProvider,
  documents: number,
  skips: { total: number; files: { name: string; reason: string }[] },
  notes: { path: string; reason: string }[] = [],
): Reply {
  const head = `${p.label} connected as ${c.accountEmail ?? "your account"}: ${documents} document${documents === 1 ? "" : "s"} indexed.`;
  const lines = skips.files.map((f) => `${f.name} — ${f.reason}`);
  if (skips.total > skips.files.length)
    lines.push(`…and ${skips.total - skips.files.length} more (type “sources”)`);
  const noteLines = notes.slice(0, 10).map((n) => `${n.path} — ${n.reason}`);
  const text = [
    head,
    ...(skips.total > 0 ? [`Skipped ${skips.total}:`, ...lines.map((l) => `• ${l}`)] : []),
    ...(noteLines.length > 0 ? ["Also note:", ...noteLines.map((l) => `• ${l}`)] : []),
  ].join("\n");
  return makeReply({
    intent: "connections.report",
    text,
    blocks: [
      { type: "text", text: head },
      ...(skips.total > 0
        ? [
            { type: "text" as const, text: `Skipped ${skips.total}:` },
            { type: "list" as const, items: lines },
          ]
        : []),
      ...(noteLines.length > 0
        ? [
            { type: "text" as const, text: "Also note:" },
            { type: "list" as const, items: noteLines },
          ]
        : []),
    ],
  });
}

function brokenReply(c: Connection, p: ConnectionProvider): Reply {
  return makeReply({
    intent: "connections.broken",
    text: `${p.label} (${c.accountEmail ?? "your account"}) stopped working: Atom's access was revoked or has expired. Nothing was deleted. Type “connect ${p.word}” to sign in again.`,
  });
}
