/**
 * Loopback load through the Slack route on 1 and on 2 `atom serve` replicas (real processes) on
 * one PostgreSQL, the handbook indexed (ATOM_DOCS_DIR), answers posted to a fake Slack.
 *
 *   TEST_DATABASE_URL=postgres://… node --import tsx bench/load.ts --rate 200 --seconds 60 [--replicas 1,2]
 *
 * Open loop: signed `app_mention` deliveries at `--rate` per second for `--seconds`, from 50
 * simulated users over 5 channels, spread round-robin over the replicas. Reports per replica
 * count: ack latency (request → HTTP response) p50/p99, answer latency (request → the reply's
 * `chat.postMessage` reaching the fake, polled every 10 ms) p50/p95/p99, non-200 acks, answers
 * missing after `--answer-wait` seconds, duplicates. One workspace (the single-token install):
 * several OAuth workspaces are not simulated here. Bounded: load time + at most `--answer-wait`
 * (default 60 s) per replica count, plus start-up and the first sync.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { exited, type Served, serveProcess } from "../test/helpers/serve.ts";
import {
  appMention,
  deliverEvent,
  eventCallback,
  nextTs,
  TEST_SIGNING_SECRET,
} from "../test/helpers/slack.ts";
import { FakeSlack } from "../test/integration/fakes/slack.ts";
import { round, summarize } from "./lib/stats.ts";

const HANDBOOK = path.resolve(import.meta.dirname, "../../shared/corpus/handbook");
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const RATE = Number(arg("rate", "200"));
const SECONDS = Number(arg("seconds", "60"));
const ANSWER_WAIT = Number(arg("answer-wait", "60"));
const REPLICAS = arg("replicas", "1,2").split(",").map(Number);
const DB = process.env.TEST_DATABASE_URL;
const QUESTIONS = [
  "what is the home office budget?",
  "how do I report a security incident?",
  "how long is parental leave?",
  "how many days off do we take?",
  "who approves my expenses?",
  "how does the on-call rotation work?",
  "what is the travel per diem?",
  "how do I request a new laptop?",
];

async function run(replicaCount: number) {
  const fake = await FakeSlack.start();
  const team = fake.addTeam({ teamId: "TLOAD" });
  const schema = `bench_load_${process.pid}_${replicaCount}`;
  const admin = new Client({ connectionString: DB });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = `${DB}${DB!.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  const dirs: string[] = [];
  const replicas: Served[] = [];
  try {
    for (let i = 0; i < replicaCount; i++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-load-"));
      dirs.push(dir);
      replicas.push(
        await serveProcess({
          ATOM_DATA_DIR: dir,
          DATABASE_URL: url,
          // One memory for all replicas: a shared directory.
          LANCEDB_URI: path.join(os.tmpdir(), `atom-load-lancedb-${process.pid}-${replicaCount}`),
          ATOM_DOCS_DIR: HANDBOOK,
          ATOM_SYNC_INTERVAL_SECONDS: "3600",
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "info",
          SLACK_BOT_TOKEN: team.botToken,
          SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
          SLACK_API_URL: fake.apiUrl,
        }),
      );
    }
    // Wait for the first sync of the handbook.
    for (;;) {
      const r = await admin.query(`SELECT status FROM ${schema}.jobs WHERE queue = 'folder_sync'`);
      if (r.rows.some((x) => x.status === "done")) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    const sentAt = new Map<string, number>();
    const acks: number[] = [];
    const answered = new Map<string, number>();
    let non200 = 0;
    let seen = 0;
    const poll = setInterval(() => {
      const msgs = fake.messages;
      for (; seen < msgs.length; seen++) {
        const t = msgs[seen]!.threadTs;
        if (t && sentAt.has(t) && !answered.has(t)) answered.set(t, performance.now() - sentAt.get(t)!);
      }
    }, 10);
    const total = RATE * SECONDS;
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      const ts = nextTs();
      const payload = eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        event: appMention({
          botUserId: team.botUserId,
          text: QUESTIONS[i % QUESTIONS.length]!,
          channel: `CLOAD${i % 5}`,
          user: `ULOAD${i % 50}`,
          ts,
        }),
      });
      sentAt.set(ts, performance.now());
      inflight.push(
        deliverEvent(replicas[i % replicaCount]!.url, payload).then(
          (r) => {
            acks.push(r.ms);
            if (r.status !== 200) non200++;
          },
          () => {
            non200++;
          },
        ),
      );
    }
    const sendSeconds = (performance.now() - started) / 1000;
    await Promise.all(inflight);
    const deadline = performance.now() + ANSWER_WAIT * 1000;
    while (answered.size < total && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    clearInterval(poll);
    const replies = fake.messages.filter((m) => m.threadTs && sentAt.has(m.threadTs));
    const a = summarize(acks);
    const ans = summarize([...answered.values()]);
    return {
      replicas: replicaCount,
      offeredPerSec: RATE,
      sent: total,
      sendSeconds: round(sendSeconds),
      ackP50: round(a.p50),
      ackP99: round(a.p99),
      non200,
      answered: answered.size,
      missing: total - answered.size,
      duplicates: replies.length - answered.size,
      answerP50: round(ans.p50),
      answerP95: round(ans.p95),
      answerP99: round(ans.p99),
      answeredPerSec: round(answered.size / ((Math.max(...answered.values()) + 0) / 1000)),
      load: os.loadavg().map((l) => round(l, 2)),
    };
  } finally {
    for (const r of replicas) r.child.kill("SIGTERM");
    for (const r of replicas) await exited(r.child);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await fake.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), `atom-load-lancedb-${process.pid}-${replicaCount}`), {
      recursive: true,
      force: true,
    });
  }
}

if (!DB || !fs.existsSync(HANDBOOK)) {
  console.log("skipped: needs TEST_DATABASE_URL and ../shared/corpus/handbook");
  process.exit(0);
}
console.log(
  `load average at start: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
const results = [];
for (const n of REPLICAS) results.push(await run(n));
console.table(results);
