/**
 * Slack webhook ack latency: Atom's `POST /slack/events` (Bolt behind the Hono receiver, Postgres
 * dedupe, reactions, Block Kit reply) versus a minimal Bolt app on Bolt's own HTTPReceiver, measured
 * in the same run under the same open-loop load of signed `app_mention` deliveries. Every event is
 * answered (chat.postMessage to a loopback fake Slack) while later events keep arriving.
 *
 *   node --import tsx bench/slack-ack.ts [--events 1000] [--rate 100] [--work-ms 2]
 *   DATABASE_URL=postgres://… node --import tsx bench/slack-ack.ts   (dedupe in PostgreSQL instead of PGlite)
 *
 * The load generator runs in a worker thread (its own event loop) and measures from sending the
 * request to receiving the response. `--work-ms` is the CPU time each answer burns in the
 * background (a stand-in for search and answer building), so acks are measured while answering.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { serve, type ServerType } from "@hono/node-server";
import { App, LogLevel } from "@slack/bolt";
import { createSlackAdapter } from "../src/adapters/slack/index.ts";
import type { ChatMessage } from "../src/adapters/types.ts";
import { makeReply, type Reply } from "../src/bot/reply.ts";
import type { Bot } from "../src/bot/types.ts";
import { loadConfig } from "../src/config.ts";
import { migrate, openPglite, openPostgres } from "../src/db/index.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { createApp } from "../src/server/app.ts";
import { appMention, eventCallback, signSlackBody, TEST_SIGNING_SECRET } from "../test/helpers/slack.ts";
import { FakeSlack } from "../test/integration/fakes/slack.ts";

interface LoadSpec {
  url: string;
  events: number;
  rate: number;
  teamId: string;
  botUserId: string;
  label: string;
}

interface LoadResult {
  latencies: number[];
  errors: number;
  seconds: number;
}

/**
 * The load generator, run in a worker thread (plain JS: workers do not inherit the TypeScript
 * loader). It sends the pre-built signed requests on an open-loop schedule and times each ack.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
(async () => {
  const { url, rate, requests } = workerData;
  const latencies = [];
  let errors = 0;
  const interval = 1000 / rate;
  const start = performance.now();
  const inflight = [];
  for (let i = 0; i < requests.length; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inflight.push(
      fetch(url, { method: "POST", headers: requests[i].headers, body: requests[i].body })
        .then(async (res) => {
          latencies.push(performance.now() - t0);
          await res.arrayBuffer();
          if (res.status !== 200) errors += 1;
        })
        .catch(() => { errors += 1; }),
    );
  }
  await Promise.all(inflight);
  parentPort.postMessage({ latencies, errors, seconds: (performance.now() - start) / 1000 });
})();
`;

/** Builds `spec.events` signed app_mention deliveries and sends them from a worker thread. */
function load(spec: LoadSpec): Promise<LoadResult> {
  const requests = Array.from({ length: spec.events }, (_, i) => {
    const ts = `${1_700_000_000 + i}.${String(i).padStart(6, "0")}`;
    const body = JSON.stringify(
      eventCallback({
        teamId: spec.teamId,
        botUserId: spec.botUserId,
        event: appMention({
          botUserId: spec.botUserId,
          text: `question ${i} about the home office budget`,
          channel: `C${spec.label}${RUN_ID}${i % 50}`,
          ts,
          teamId: spec.teamId,
        }),
      }),
    );
    return {
      body,
      headers: { "content-type": "application/json", ...signSlackBody(TEST_SIGNING_SECRET, body) },
    };
  });
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { url: spec.url, rate: spec.rate, requests },
    });
    w.once("message", (r: LoadResult) => {
      resolve(r);
      void w.terminate();
    });
    w.once("error", reject);
  });
}

function burn(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // CPU work standing in for search + answer building.
  }
}

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** Child mode: serves the fake Slack in its own process and reports its URL and counts. */
async function fakeChild(): Promise<void> {
  const fake = await FakeSlack.start();
  fake.addTeam({ teamId: "TBENCH", botToken: BENCH_TOKEN, botUserId: "UBENCHBOT", botId: "BBENCHBOT" });
  process.send?.({ url: fake.url, apiUrl: fake.apiUrl });
  process.on("message", (m: { count?: boolean }) => {
    if (m.count) {
      const posted = fake.posted().length;
      fake.calls.length = 0;
      fake.messages.length = 0;
      process.send?.({ posted });
    }
  });
  process.on("disconnect", () => {
    void fake.close().then(() => process.exit(0));
  });
}

const BENCH_TOKEN = "xoxb-bench-0000000000-token";
/** Makes message identities unique per run (dedupe rows may outlive a run in PostgreSQL). */
const RUN_ID = Date.now().toString(36).toUpperCase();

/** Starts the fake Slack in a child process (so it does not compete with the receivers' event loop). */
async function startFakeProcess(): Promise<{
  apiUrl: string;
  takeCount: () => Promise<number>;
  stop: () => void;
}> {
  const child = fork(fileURLToPath(import.meta.url), ["--fake-child"], {
    execArgv: process.execArgv,
    stdio: "inherit",
  });
  const { apiUrl } = await new Promise<{ apiUrl: string }>((resolve, reject) => {
    child.once("message", (m) => resolve(m as { apiUrl: string }));
    child.once("error", reject);
  });
  return {
    apiUrl,
    takeCount: () =>
      new Promise((resolve) => {
        child.once("message", (m) => resolve((m as { posted: number }).posted));
        child.send({ count: true });
      }),
    stop: () => child.disconnect(),
  };
}

async function main(): Promise<void> {
  if (process.argv.includes("--fake-child")) return fakeChild();
  const events = arg("events", 1000);
  const rate = arg("rate", 100);
  const workMs = arg("work-ms", 2);
  const fake = await startFakeProcess();
  const team = { teamId: "TBENCH", botToken: BENCH_TOKEN, botUserId: "UBENCHBOT" };
  let answered = 0;
  /** Waits (at most `ms`) until `n` answers were produced in this process. @returns whether they were. */
  const waitAnswered = async (n: number, ms: number) => {
    const until = Date.now() + ms;
    while (answered < n) {
      if (Date.now() > until) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return true;
  };

  // --- baseline: minimal Bolt app on Bolt's own HTTPReceiver ---
  const bolt = new App({
    token: team.botToken,
    signingSecret: TEST_SIGNING_SECRET,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: fake.apiUrl },
  });
  bolt.event("app_mention", async ({ event, client }) => {
    burn(workMs);
    await client.chat.postMessage({
      channel: event.channel,
      thread_ts: event.thread_ts ?? event.ts,
      text: "answer",
    });
    answered += 1;
  });
  const boltServer = (await bolt.start(0)) as unknown as ServerType;
  const boltAddr = boltServer.address();
  const boltPort = typeof boltAddr === "object" && boltAddr ? boltAddr.port : 0;

  // --- Atom: Bolt behind Hono, Postgres (PGlite) dedupe, reactions, Block Kit reply ---
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-slack-"));
  const pgUrl = process.env.DATABASE_URL;
  const schema = `bench_slack_${process.pid}`;
  if (pgUrl) {
    const admin = await openPostgres(pgUrl);
    await admin.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await admin.close();
  }
  const db = pgUrl
    ? await openPostgres(
        `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      )
    : await openPglite("memory://");
  await migrate(db);
  const bot: Bot = {
    async handle(msg: ChatMessage): Promise<Reply> {
      burn(workMs);
      answered += 1;
      return makeReply({
        intent: "ask",
        text: `Answer to ${msg.text}`,
        citations: [
          {
            n: 1,
            title: "Spending company money",
            uri: "spending-company-money.md",
            heading: null,
            snippet: "",
          },
        ],
        actions: [{ id: "feedback_up", label: "👍", value: msg.messageId }],
      });
    },
    recordFeedback: async () => true,
    isInThread: async () => false,
    addStatusContributor: () => {},
    registerCommand: () => {},
    registerActionHandler: () => {},
    handleAction: async () => undefined,
  };
  const adapter = createSlackAdapter({
    config: loadConfig({
      ATOM_DATA_DIR: dataDir,
      LOG_LEVEL: "silent",
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
    }),
    db,
    bot,
    memory: { purgeTenant: async () => {} },
    logger: silentLogger,
    options: { loopGuard: { max: 1_000_000, windowMs: 1000 } },
  });
  const app = createApp({ logger: silentLogger, readiness: [], routes: [adapter.routes] });
  const atomServer: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const atomAddr = atomServer.address();
  const atomPort = typeof atomAddr === "object" && atomAddr ? atomAddr.port : 0;

  const common = { events, rate, teamId: team.teamId, botUserId: team.botUserId };
  const warm = { ...common, events: Math.min(100, events), rate };
  console.log(
    `slack ack benchmark: ${events} signed app_mention events at ${rate}/s, ${workMs} ms CPU per answer, ` +
      `atom database: ${pgUrl ? "PostgreSQL (DATABASE_URL)" : "embedded PGlite"}`,
  );
  await load({ ...warm, url: `http://127.0.0.1:${boltPort}/slack/events`, label: "WB" });
  await load({ ...warm, url: `http://127.0.0.1:${atomPort}/slack/events`, label: "WA" });
  await waitAnswered(2 * warm.events, 30_000);
  await fake.takeCount();

  const rows: [string, LoadResult, number][] = [];
  for (const [name, port, label] of [
    ["bolt HTTPReceiver (minimal)", boltPort, "B"],
    ["atom /slack/events", atomPort, "A"],
  ] as const) {
    const before = answered;
    const r = await load({ ...common, url: `http://127.0.0.1:${port}/slack/events`, label });
    await waitAnswered(before + events, 20_000);
    await new Promise((res) => setTimeout(res, 300));
    rows.push([name, r, await fake.takeCount()]);
  }

  console.log("");
  console.log("| receiver | events | non-200 | posted | p50 ms | p99 ms | max ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [name, r, posted] of rows) {
    const s = [...r.latencies].sort((a, b) => a - b);
    console.log(
      `| ${name} | ${s.length} | ${r.errors} | ${posted} | ${pct(s, 50).toFixed(2)} | ${pct(s, 99).toFixed(2)} | ${(s.at(-1) ?? 0).toFixed(2)} |`,
    );
  }
  console.log(
    `\n("posted" = answers the fake Slack received within 20 s of the last event; node ${process.version}, ` +
      `${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)})`,
  );

  await new Promise<void>((resolve) => atomServer.close(() => resolve()));
  await bolt.stop();
  await adapter.close();
  await db.close();
  if (pgUrl) {
    const admin = await openPostgres(pgUrl);
    await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
  fake.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

await main();
