/**
 * Runs the Teams adapter the way `atom serve` composes it — real botbuilder, the core's
 * conversation pipeline on a durable job worker, the Hono app on a loopback port — over its own
 * PGlite database (or a shared one), with a small recording Bot (the bot core itself is exercised by the e2e tests).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import {
  createTeamsAdapter,
  type BotFrameworkEndpoints,
  type TeamsAdapter,
} from "../../src/adapters/teams/index.ts";
import { createTeamsSurface, type TeamsSurface } from "../../src/adapters/teams/lazy.ts";
import { makeReply } from "../../src/bot/reply.ts";
import { TeamsConversations } from "../../src/db/teams.ts";
import type { Bot, HandleOptions, StatusContributor } from "../../src/bot/types.ts";
import { loadConfig } from "../../src/config.ts";
import { type Conversations, createConversations } from "../../src/core/conversation.ts";
import type { ChatAction, ChatMessage } from "../../src/core/ports.ts";
import { JobWorker } from "../../src/core/worker.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import type { Logger } from "../../src/observability/logger.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createApp } from "../../src/server/app.ts";

/** A Bot that records what it got and answers "You asked: …" with a citation and feedback buttons. */
export class RecordingBot implements Bot {
  handled: ChatMessage[] = [];
  actions: ChatAction[] = [];
  feedback: Array<{ tenantId: string; answerId: string; userId: string; rating: string }> = [];
  threads = new Set<string>();
  delayMs = 0;
  contributors: StatusContributor[] = [];

  async handle(msg: ChatMessage, opts?: HandleOptions) {
    this.handled.push(msg);
    this.threads.add(msg.threadId);
    if (msg.files.length > 0 && opts?.progress) {
      const bytes = await msg.files[0]?.download?.();
      await opts.progress(
        makeReply({ intent: "transcribe", text: `Got ${bytes?.length ?? 0} bytes of ${msg.files[0]?.name}` }),
      );
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const answerId = `ans-${this.handled.length}`;
    return makeReply({
      intent: "ask",
      text: `You asked: ${msg.text} [1]`,
      citations: [
        {
          n: 1,
          title: "Spending company money",
          uri: "spending-company-money.md",
          heading: null,
          snippet: "Budget",
        },
      ],
      actions: [
        { id: "feedback_up", label: "👍", value: answerId },
        { id: "feedback_down", label: "👎", value: answerId },
      ],
      answerId,
    });
  }
  async recordFeedback() {
    return true;
  }
  async isInThread(ref: { threadId: string }) {
    return this.threads.has(ref.threadId);
  }
  addStatusContributor(fn: StatusContributor) {
    this.contributors.push(fn);
  }
  registerCommand(): void {}
  registerActionHandler(): void {}
  /** Feedback buttons as the core handles them: the first rating of a person stays. */
  async handleAction(action: ChatAction) {
    this.actions.push(action);
    if (action.actionId !== "feedback_up" && action.actionId !== "feedback_down") {
      return makeReply({ intent: "button", text: `pressed ${action.actionId}`, visibility: "thread" });
    }
    const seen = this.feedback.some(
      (f) => f.tenantId === action.tenantId && f.answerId === action.value && f.userId === action.userId,
    );
    if (!seen)
      this.feedback.push({
        tenantId: action.tenantId,
        answerId: action.value,
        userId: action.userId,
        rating: action.actionId === "feedback_up" ? "up" : "down",
      });
    return makeReply({
      intent: "feedback",
      text: seen ? "You already rated this answer." : "Thanks — your feedback was recorded.",
      visibility: "ephemeral",
    });
  }
}

/** A running Teams adapter with its own database and job worker. */
export interface RunningTeams {
  teams: TeamsAdapter;
  /** The lazy surface, when started with `lazy`. */
  surface?: TeamsSurface;
  db: Db;
  jobs: JobWorker;
  conversations: Conversations;
  url: string;
  /** Waits until every accepted delivery was handled (the job table's drain signal). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startTeams}. */
export interface StartTeamsOptions {
  env?: Record<string, string>;
  endpoints?: BotFrameworkEndpoints;
  typingIntervalMs?: number;
  /** The core's working-signal delay, ms (default 400). */
  workingAfterMs?: number;
  logger?: Logger;
  /** Reuse of token checks (default: always ask again). */
  tokenCheckOkForMs?: number;
  /**
   * A database to share (not closed by `close`). Only one harness's worker may run on a database
   * at a time: each claims every inbound job, whatever adapter settings the job was meant for.
   */
  db?: Db;
  /**
   * Start the local-mode surface `atom serve` uses (src/adapters/teams/lazy.ts: botbuilder loads on
   * first use) instead of the adapter itself; default: when ATOM_TEST_TEAMS_LAZY=1.
   */
  lazy?: boolean;
}

/** Starts the adapter on 127.0.0.1 with a fresh PGlite database. */
export async function startTeams(bot: Bot, opts: StartTeamsOptions = {}): Promise<RunningTeams> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-"));
  const shared = opts.db;
  const db = shared ?? (await openPglite("memory://"));
  if (!shared) await migrate(db);
  const logger = opts.logger ?? silentLogger;
  const config = loadConfig({ ATOM_DATA_DIR: dataDir, LOG_LEVEL: "silent", ...opts.env });
  const jobs = new JobWorker(new JobStore(db), { logger, pollMs: 50, shutdownGraceMs: 2000 });
  const conversations = createConversations({
    bot,
    jobs,
    logger,
    options: { workingSignalAfterMs: opts.workingAfterMs ?? 400, maxAttempts: 3 },
  });
  const deps = {
    config,
    db,
    bot,
    logger,
    conversations,
    typingIntervalMs: opts.typingIntervalMs ?? 60_000,
    endpoints: opts.endpoints,
    health: { okForMs: opts.tokenCheckOkForMs ?? 0, failedForMs: 0 },
  };
  const lazy = opts.lazy ?? process.env.ATOM_TEST_TEAMS_LAZY === "1";
  let surface: TeamsSurface | undefined;
  let teams: TeamsAdapter;
  if (lazy) {
    surface = await createTeamsSurface(deps);
    // What the tests read besides routes and messenger: the reference store (no botbuilder in it).
    teams = { ...surface, references: new TeamsConversations(db) } as unknown as TeamsAdapter;
  } else teams = createTeamsAdapter(deps);
  const app = createApp({
    logger,
    readiness: teams.readiness ? [teams.readiness] : [],
    routes: [teams.routes],
  });
  jobs.start();
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    teams,
    surface,
    db,
    jobs,
    conversations,
    url: `http://127.0.0.1:${port}`,
    drain: () => jobs.drain({ timeoutMs: 20_000 }),
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await jobs.stop();
      await teams.close();
      if (!shared) await db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Rows of a table (for "nothing stored" checks). */
export async function countRows(db: Db, table: "teams_conversations" | "jobs" | "teams_sent_messages") {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n ?? 0;
}
