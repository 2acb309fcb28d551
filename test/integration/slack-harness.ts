import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import type { ChatMessage } from "../../src/adapters/types.ts";
import {
  createSlackAdapter,
  type SlackAdapter,
  type SlackAdapterOptions,
} from "../../src/adapters/slack/index.ts";
import { makeReply, type Reply } from "../../src/bot/reply.ts";
import type { Bot, FeedbackInput, HandleOptions, StatusContributor } from "../../src/bot/types.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openPglite } from "../../src/db/index.ts";
import type { Db } from "../../src/db/types.ts";
import { type Logger, silentLogger } from "../../src/observability/logger.ts";
import { createApp } from "../../src/server/app.ts";
import { TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import type { FakeSlack } from "./fakes/slack.ts";

/**
 * A small in-test Bot: answers every message after `delayMs` with a fixed cited answer, records
 * what it was asked, remembers threads it answered in, and records feedback once per user.
 */
export class StubBot implements Bot {
  handled: ChatMessage[] = [];
  feedback: FeedbackInput[] = [];
  contributors: StatusContributor[] = [];
  delayMs = 0;
  /** Text of the answer (default: "Answer to: <question>"). */
  answerText?: (msg: ChatMessage) => string;
  progressReply?: Reply;
  private threads = new Set<string>();

  async handle(msg: ChatMessage, opts?: HandleOptions): Promise<Reply> {
    this.handled.push(msg);
    if (this.progressReply) await opts?.progress?.(this.progressReply);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.threads.add(`${msg.tenantId}|${msg.channelId}|${msg.threadId}`);
    const intent = msg.text.trim() === "help" ? "help" : "ask";
    return makeReply({
      intent,
      text: this.answerText?.(msg) ?? `Answer to: ${msg.text}`,
      citations: [
        {
          n: 1,
          title: "Spending company money",
          uri: "spending-company-money.md",
          heading: "Home office",
          snippet: "a budget",
        },
      ],
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

  registerActionHandler(): void {}

  async handleAction(): Promise<undefined> {
    return undefined;
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
  purged: string[];
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Starts the adapter (real Bolt, real WebClient) against `fake`, on 127.0.0.1. With `shared`, the
 * adapter uses that database and bot (a second replica of the same deployment); `logger` receives
 * the adapter's logs (default: silent). `env.SLACK_API_URL` overrides the fake's URL.
 */
export async function startSlackHarness(
  fake: FakeSlack,
  env: Record<string, string>,
  options: SlackAdapterOptions = {},
  shared?: { db: Db; bot: StubBot },
  logger: Logger = silentLogger,
): Promise<SlackHarness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-slack-"));
  const db = shared?.db ?? (await openPglite("memory://"));
  if (!shared) await migrate(db);
  const config = loadConfig({
    ATOM_DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
    ...env,
  });
  const bot = shared?.bot ?? new StubBot();
  const purged: string[] = [];
  const adapter = createSlackAdapter({
    config,
    db,
    bot,
    logger,
    memory: {
      purgeTenant: async (t) => {
        purged.push(t);
      },
    },
    options,
  });
  const app = createApp({ logger: silentLogger, readiness: [], routes: [adapter.routes] });
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
    purged,
    dataDir,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await adapter.close();
      if (!shared) await db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
