import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OrgDomains } from "../../src/security/org-domains.ts";
import { serve, type ServerType } from "@hono/node-server";
import {
  createSlackAdapter,
  type SlackAdapter,
  type SlackAdapterOptions,
} from "../../src/adapters/slack/index.ts";
import { type Citation, makeReply, type Reply } from "../../src/bot/reply.ts";
import type {
  ActionHandlerSpec,
  Bot,
  FeedbackInput,
  HandleOptions,
  StatusContributor,
} from "../../src/bot/types.ts";
import { loadConfig } from "../../src/config.ts";
import { type ConversationOptions, createConversations } from "../../src/core/conversation.ts";
import type { ChatAction, ChatMessage, Messenger, Platform } from "../../src/core/ports.ts";
import { createShares } from "../../src/core/share.ts";
import { JobWorker } from "../../src/core/worker.ts";
import { migrate, openPglite } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import type { Db } from "../../src/db/types.ts";
import { type Logger, silentLogger } from "../../src/observability/logger.ts";
import { createApp } from "../../src/server/app.ts";
import { TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import type { FakeSlack } from "./fakes/slack.ts";

/** The handbook document the stub's answers cite (visible to everyone in the default tenant). */
export const PUBLIC_CITATION: Citation = {
  n: 1,
  title: "Spending company money",
  uri: "spending-company-money.md",
  heading: "Home office",
  snippet: "a budget",
  source: "folder:handbook",
  docId: "spending-company-money.md",
};

/**
 * A small in-test Bot: answers every message after `delayMs` with a fixed cited answer, records
 * what it was asked, remembers threads it answered in, records feedback once per user, and
 * routes button presses to registered handlers (feedback built in, like the real bot).
 */
export class StubBot implements Bot {
  handled: ChatMessage[] = [];
  feedback: FeedbackInput[] = [];
  contributors: StatusContributor[] = [];
  actions: ChatAction[] = [];
  delayMs = 0;
  /** Text of the answer (default: "Answer to: <question>"). */
  answerText?: (msg: ChatMessage) => string;
  /** Citations of the answer (default: {@link PUBLIC_CITATION}). */
  citations?: Citation[];
  progressReply?: Reply;
  private threads = new Set<string>();
  private handlers: ActionHandlerSpec[] = [];

  async handle(msg: ChatMessage, opts?: HandleOptions): Promise<Reply> {
    this.handled.push(msg);
    if (this.progressReply) await opts?.progress?.(this.progressReply);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.threads.add(`${msg.tenantId}|${msg.channelId}|${msg.threadId}`);
    const intent = msg.text.trim() === "help" ? "help" : "ask";
    return makeReply({
      intent,
      text: this.answerText?.(msg) ?? `Answer to: ${msg.text}`,
      citations: this.citations ?? [PUBLIC_CITATION],
      actions: [
        { id: "feedback_up", label: "Helpful", value: `ans-${this.handled.length}` },
        { id: "feedback_down", label: "Not helpful", value: `ans-${this.handled.length}` },
      ],
      answerId: `ans-${this.handled.length}`,
      visibility: msg.visibility,
    });
  }

  async recordFeedback(input: FeedbackInput): Promise<boolean> {
    if (this.feedback.some((f) => f.answerId === input.answerId && f.userId === input.userId)) return false;
    this.feedback.push(input);
    return true;
  }

  async isInThread(ref: { tenantId: string; channelId: string; threadId: string }): Promise<boolean> {
    return this.threads.has(`${ref.tenantId}|${ref.channelId}|${ref.threadId}`);
  }

  addStatusContributor(fn: StatusContributor): void {
    this.contributors.push(fn);
  }

  registerCommand(): void {}

  registerActionHandler(spec: ActionHandlerSpec): void {
    this.handlers.push(spec);
  }

  async handleAction(action: ChatAction): Promise<Reply | undefined> {
    this.actions.push(action);
    if (action.actionId === "feedback_up" || action.actionId === "feedback_down") {
      const fresh = await this.recordFeedback({
        tenantId: action.tenantId,
        platform: action.platform,
        answerId: action.value,
        userId: action.userId,
        rating: action.actionId === "feedback_up" ? "up" : "down",
      });
      return makeReply({
        intent: "feedback",
        text: fresh ? "Thanks — your feedback was recorded." : "You already rated this answer.",
        visibility: "ephemeral",
      });
    }
    return this.handlers.find((h) => action.actionId.startsWith(h.prefix))?.handle(action);
  }

  /** Lines every contributor gives for `tenantId`. */
  async status(tenantId: string): Promise<string[]> {
    return (await Promise.all(this.contributors.map((f) => f(tenantId)))).flat();
  }
}

/** A Slack adapter served on loopback with PGlite, a stub bot and a recording memory purger. */
export interface SlackHarness {
  url: string;
  db: Db;
  bot: StubBot;
  adapter: SlackAdapter;
  jobs: JobWorker;
  purged: string[];
  dataDir: string;
  /** Resolves when no job is due or running (the drain signal); throws after `timeoutMs`. */
  drain(timeoutMs?: number): Promise<void>;
  /** Rows of the job table, optionally of one status. */
  jobRows(
    status?: string,
  ): Promise<{ queue: string; job_key: string; status: string; last_error: string | null }[]>;
  close(): Promise<void>;
}

/** Harness settings: the adapter's options plus the pipeline's. */
export type HarnessOptions = SlackAdapterOptions & { conversation?: ConversationOptions };

/**
 * Starts the adapter (real Bolt, real WebClient) against `fake`, on 127.0.0.1. With `shared`, the
 * adapter uses that database and bot (a second replica of the same deployment); `logger` receives
 * the adapter's logs (default: silent). `env.SLACK_API_URL` overrides the fake's URL.
 */
export async function startSlackHarness(
  fake: FakeSlack,
  env: Record<string, string>,
  options: HarnessOptions = {},
  shared?: { db: Db; bot: StubBot },
  logger: Logger = silentLogger,
): Promise<SlackHarness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-slack-"));
  const db = shared?.db ?? (await openPglite("memory://"));
  if (!shared) {
    await migrate(db);
    await db.query(
      `INSERT INTO documents (tenant_id, source_id, doc_id, uri, title, mime, version, content_hash, acl)
       VALUES ('default', 'folder:handbook', 'spending-company-money.md', 'spending-company-money.md',
               'Spending company money', 'text/markdown', '1', '', '["anyone"]'::jsonb)`,
    );
  }
  const config = loadConfig({
    ATOM_DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    ...env,
  });
  const bot = shared?.bot ?? new StubBot();
  const purged: string[] = [];
  const { conversation: conversationOptions, ...adapterOptions } = options;
  const jobs = new JobWorker(new JobStore(db), { logger, pollMs: 100, shutdownGraceMs: 1000 });
  const conversations = createConversations({ bot, jobs, logger, options: conversationOptions });
  const messengers = new Map<Platform, Messenger>();
  const shares = createShares({ db, messengers, logger });
  if (!shared) bot.registerActionHandler(shares.handler);
  const adapter = createSlackAdapter({
    config,
    db,
    bot,
    logger,
    conversations,
    jobs,
    shares,
    onInstalledBy: (tenantId, email) => new OrgDomains(db, []).learnFrom(tenantId, email),
    memory: {
      purgeTenant: async (t) => {
        purged.push(t);
      },
    },
    options: adapterOptions,
  });
  messengers.set("slack", adapter.messenger);
  jobs.start();
  const app = createApp({ logger: silentLogger, readiness: [adapter.readiness], routes: [adapter.routes] });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    db,
    bot,
    adapter,
    jobs,
    purged,
    dataDir,
    drain: (timeoutMs = 15_000) => jobs.drain({ timeoutMs }),
    async jobRows(status?: string) {
      const r = await db.query<{ queue: string; job_key: string; status: string; last_error: string | null }>(
        `SELECT queue, job_key, status, last_error FROM jobs ${status ? "WHERE status = $1" : ""} ORDER BY id`,
        status ? [status] : [],
      );
      return r.rows;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await adapter.close();
      await jobs.stop();
      if (!shared) await db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
