/**
 * Slack webhook ack latency while answering with the real memory search over the handbook.
 * Three receivers under the same open-loop load of signed `app_mention` deliveries, in one run:
 * - a minimal Bolt app on Bolt's own HTTPReceiver whose listener searches Atom's memory (the real
 *   search over ../shared/corpus/handbook) and posts an extractive answer;
 * - Atom's `POST /slack/events` (`atom serve` in this process: Hono receiver, zod payload check,
 *   one job row, then the core worker answers with the real bot and memory) for the
 *   single-workspace token;
 * - the same for a workspace installed through OAuth with a rotating token that is due for refresh
 *   (the ack never reads the installation or waits for the refresh).
 * Every answer is a `chat.postMessage` to a loopback fake Slack in a child process.
 *
 *   node --import tsx bench/slack-ack.ts [--events 500] [--rate 100] [--answer-wait 90]
 *   DATABASE_URL=postgres://… node --import tsx bench/slack-ack.ts   (jobs in PostgreSQL instead of PGlite)
 *
 * The load generator runs in a worker thread (its own event loop) and measures from sending the
 * request to receiving the response. Run time is bounded: indexing the handbook once, then per
 * receiver `events / rate` seconds of load and at most `--answer-wait` seconds for the answers.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ServerType } from "@hono/node-server";
import { App, LogLevel } from "@slack/bolt";
import { extractiveAnswer } from "../src/bot/answer.ts";
import { loadConfig } from "../src/config.ts";
import { openPostgres } from "../src/db/index.ts";
import { FOLDER_SYNC_QUEUE, startServer } from "../src/main.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { appMention, eventCallback, signSlackBody, TEST_SIGNING_SECRET } from "../test/helpers/slack.ts";
import { FakeSlack } from "../test/integration/fakes/slack.ts";

const HANDBOOK = path.resolve(import.meta.dirname, "../../shared/corpus/handbook");

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

/** Handbook questions the answers are searched for (cycled). */
const QUESTIONS = [
  "what is the home office budget?",
  "how many vacation days do I get?",
  "who approves travel expenses?",
  "how do I report a security incident?",
  "what is the parental leave policy?",
  "how are promotions decided?",
  "can I expense a coworking space?",
  "what is the on-call rotation?",
];

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
          text: QUESTIONS[i % QUESTIONS.length] as string,
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

const BENCH_TOKEN = "xoxb-bench-0000000000-token";
/** Makes message identities unique per run (job rows may outlive a run in PostgreSQL). */
const RUN_ID = Date.now().toString(36).toUpperCase();

type FakeRequest = { count: true } | { addCode: string; teamId: string };

/** Child mode: serves the fake Slack in its own process and reports its URL and counts. */
async function fakeChild(): Promise<void> {
  const fake = await FakeSlack.start();
  fake.addTeam({ teamId: "TBENCH", botToken: BENCH_TOKEN, botUserId: "UBENCHBOT", botId: "BBENCHBOT" });
  process.send?.({
    url: fake.url,
    apiUrl: fake.apiUrl,
    clientId: fake.clientId,
    clientSecret: fake.clientSecret,
  });
  process.on("message", (m: FakeRequest) => {
    if ("count" in m) {
      const posted = fake.posted().length;
      fake.calls.length = 0;
      fake.messages.length = 0;
      process.send?.({ posted });
    } else {
      // A rotating token that expires in 10 minutes: due for refresh from the first event on.
      fake.addOAuthCode(m.addCode, {
        teamId: m.teamId,
        teamName: "Bench OAuth",
        rotate: true,
        expiresIn: 600,
      });
      process.send?.({ added: m.addCode });
    }
  });
  process.on("disconnect", () => {
    void fake.close().then(() => process.exit(0));
  });
}

/** Starts the fake Slack in a child process (so it does not compete with the receivers' event loop). */
async function startFakeProcess() {
  const child = fork(fileURLToPath(import.meta.url), ["--fake-child"], {
    execArgv: process.execArgv,
    stdio: "inherit",
  });
  const info = await new Promise<{ apiUrl: string; clientId: string; clientSecret: string }>(
    (resolve, reject) => {
      child.once("message", (m) => resolve(m as { apiUrl: string; clientId: string; clientSecret: string }));
      child.once("error", reject);
    },
  );
  const ask = <T>(m: FakeRequest) =>
    new Promise<T>((resolve) => {
      child.once("message", (r) => resolve(r as T));
      child.send(m);
    });
  return {
    ...info,
    takeCount: async () => (await ask<{ posted: number }>({ count: true })).posted,
    addCode: (code: string, teamId: string) => ask({ addCode: code, teamId }),
    stop: () => child.disconnect(),
  };
}

/** Installs a workspace through Atom's real OAuth routes. @returns the bot user id. */
async function installOAuth(
  atomUrl: string,
  fake: Awaited<ReturnType<typeof startFakeProcess>>,
): Promise<void> {
  await fake.addCode("code-bench", "TOAUTH");
  const install = await fetch(`${atomUrl}/slack/install`, { redirect: "manual" });
  const state = new URL(install.headers.get("location") ?? "").searchParams.get("state") ?? "";
  const cookie = (install.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  const done = await fetch(
    `${atomUrl}/slack/oauth_redirect?code=code-bench&state=${encodeURIComponent(state)}`,
    {
      headers: { cookie },
    },
  );
  if (done.status !== 200) throw new Error(`OAuth install failed: HTTP ${done.status}`);
}

async function main(): Promise<void> {
  if (process.argv.includes("--fake-child")) return fakeChild();
  if (!fs.existsSync(HANDBOOK)) throw new Error(`the handbook corpus is not at ${HANDBOOK}`);
  const events = arg("events", 500);
  const rate = arg("rate", 100);
  const answerWaitMs = arg("answer-wait", 90) * 1000;
  const load0 = os.loadavg()[0] ?? 0;
  const fake = await startFakeProcess();

  // --- Atom: `atom serve` in this process, the handbook indexed into the default tenant ---
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-slack-"));
  const pgUrl = process.env.DATABASE_URL;
  const schema = `bench_slack_${process.pid}`;
  let databaseUrl: string | undefined;
  if (pgUrl) {
    const admin = await openPostgres(pgUrl);
    await admin.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await admin.close();
    databaseUrl = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }
  const indexStart = performance.now();
  const server = await startServer(
    loadConfig({
      ATOM_DATA_DIR: dataDir,
      ATOM_DOCS_DIR: HANDBOOK,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      SLACK_BOT_TOKEN: BENCH_TOKEN,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_CLIENT_ID: fake.clientId,
      SLACK_CLIENT_SECRET: fake.clientSecret,
      SLACK_API_URL: fake.apiUrl,
      // One simulated asker sends every event: rate limits (on by default) would refuse most of them.
      ATOM_LIMIT_QUESTIONS_PER_USER_HOUR: "0",
      ATOM_LIMIT_QUESTIONS_PER_WORKSPACE_HOUR: "0",
    }),
    { logger: silentLogger },
  );
  // `atom serve` listens before the first sync of the docs folder: wait for it (the drain signal).
  await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 600_000 });
  const indexSeconds = (performance.now() - indexStart) / 1000;
  await installOAuth(server.url, fake);
  // The OAuth workspace is its own tenant: give it the handbook too, so its answers search as much.
  await server.atom.memory.syncFolder(HANDBOOK, { tenantId: "slack:TOAUTH" });
  const inst = await server.atom.db.query<{ bot_user_id: string }>(
    "SELECT bot_user_id FROM slack_installations WHERE tenant_id = 'slack:TOAUTH'",
  );
  const oauthBotUserId = inst.rows[0]?.bot_user_id ?? "";

  // --- baseline: minimal Bolt app on Bolt's own HTTPReceiver, answering with the same search ---
  const memory = server.atom.memory;
  let boltAnswered = 0;
  const bolt = new App({
    token: BENCH_TOKEN,
    signingSecret: TEST_SIGNING_SECRET,
    logLevel: LogLevel.ERROR,
    clientOptions: { slackApiUrl: fake.apiUrl },
  });
  bolt.event("app_mention", async ({ event, client }) => {
    const question = event.text.replace(/<@[^>]+>\s*/g, "");
    const result = await memory.search(question, { tenantId: "default", principals: ["anyone"] });
    const answer = extractiveAnswer(result);
    await client.chat.postMessage({
      channel: event.channel,
      thread_ts: event.thread_ts ?? event.ts,
      text: answer.found ? answer.text : "I couldn't find that in your connected sources.",
    });
    boltAnswered += 1;
  });
  const boltServer = (await bolt.start(0)) as unknown as ServerType;
  const boltAddr = boltServer.address();
  const boltPort = typeof boltAddr === "object" && boltAddr ? boltAddr.port : 0;

  /** Waits until `done()` or `answerWaitMs`; @returns seconds waited. */
  const waitAnswers = async (done: () => Promise<boolean>) => {
    const t0 = performance.now();
    while (!(await done()) && performance.now() - t0 < answerWaitMs)
      await new Promise((r) => setTimeout(r, 100));
    return (performance.now() - t0) / 1000;
  };
  const jobsPending = async () =>
    Number(
      (
        await server.atom.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM jobs WHERE queue = 'inbound' AND status IN ('queued', 'running')",
        )
      ).rows[0]?.n,
    );

  console.log(
    `slack ack benchmark: ${events} signed app_mention events at ${rate}/s per receiver, answered with the real ` +
      `memory search over the handbook (indexed in ${indexSeconds.toFixed(1)} s); atom database: ` +
      `${pgUrl ? "PostgreSQL (DATABASE_URL)" : "embedded PGlite"}; load average before: ${load0.toFixed(1)}`,
  );
  // Warm-up (JIT, connections, each tenant's search vocabulary), not measured.
  const warm = Math.min(50, events);
  await load({
    url: `http://127.0.0.1:${boltPort}/slack/events`,
    events: warm,
    rate,
    teamId: "TBENCH",
    botUserId: "UBENCHBOT",
    label: "WB",
  });
  await load({
    url: `${server.url}/slack/events`,
    events: warm,
    rate,
    teamId: "TBENCH",
    botUserId: "UBENCHBOT",
    label: "WA",
  });
  await load({
    url: `${server.url}/slack/events`,
    events: warm,
    rate,
    teamId: "TOAUTH",
    botUserId: oauthBotUserId,
    label: "WO",
  });
  await waitAnswers(async () => boltAnswered >= warm && (await jobsPending()) === 0);
  await fake.takeCount();

  const receivers = [
    {
      name: "bolt HTTPReceiver (minimal) + search",
      url: `http://127.0.0.1:${boltPort}/slack/events`,
      teamId: "TBENCH",
      botUserId: "UBENCHBOT",
      label: "B",
    },
    {
      name: "atom /slack/events, SLACK_BOT_TOKEN",
      url: `${server.url}/slack/events`,
      teamId: "TBENCH",
      botUserId: "UBENCHBOT",
      label: "A",
    },
    {
      name: "atom /slack/events, OAuth install (rotating token)",
      url: `${server.url}/slack/events`,
      teamId: "TOAUTH",
      botUserId: oauthBotUserId,
      label: "O",
    },
  ];
  const rows: { name: string; r: LoadResult; posted: number; answerSeconds: number; loadAvg: number }[] = [];
  for (const spec of receivers) {
    const before = boltAnswered;
    const r = await load({ ...spec, events, rate });
    const answerSeconds = await waitAnswers(async () =>
      spec.label === "B" ? boltAnswered >= before + events : (await jobsPending()) === 0,
    );
    rows.push({
      name: spec.name,
      r,
      posted: await fake.takeCount(),
      answerSeconds,
      loadAvg: os.loadavg()[0] ?? 0,
    });
  }

  console.log("");
  console.log(
    "| receiver | events | non-200 | p50 ms | p99 ms | max ms | answered | answers done after load | load avg |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const { name, r, posted, answerSeconds, loadAvg } of rows) {
    const s = [...r.latencies].sort((a, b) => a - b);
    console.log(
      `| ${name} | ${s.length} | ${r.errors} | ${pct(s, 50).toFixed(2)} | ${pct(s, 99).toFixed(2)} | ${(s.at(-1) ?? 0).toFixed(2)} | ${posted}/${events} | ${answerSeconds.toFixed(1)} s | ${loadAvg.toFixed(1)} |`,
    );
  }
  console.log(
    `\n("answered" = answers the fake Slack received; "answers done after load" = time after the last ack until every ` +
      `answer was posted (at most --answer-wait); node ${process.version}, ${os.cpus().length} CPUs)`,
  );

  await bolt.stop();
  await server.close();
  if (pgUrl) {
    const admin = await openPostgres(pgUrl);
    await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  }
  fake.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

await main();
