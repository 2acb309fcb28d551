/**
 * Idle footprint of `atom serve` with the handbook indexed, and where it goes.
 *
 *   node --import tsx bench/footprint.ts [--settle 5] [--variants embedded,arena2,postgres]
 *
 * Indexes `../shared/corpus/handbook` once (a first `atom serve` on a temp data dir, stopped when
 * /readyz says the sync is done), then restarts `atom serve` on that data dir once per variant,
 * waits for /readyz, idles `--settle` seconds and reads from /proc: VmRSS, VmHWM, and the
 * anonymous / file-backed split of `smaps_rollup`; `/metrics` gives V8's heap and external
 * (Arrow/Buffer) memory. Variants:
 *   embedded   the defaults (PGlite in process, LanceDB on disk)
 *   arena2     the same with MALLOC_ARENA_MAX=2 (glibc keeps fewer per-thread heaps for
 *              LanceDB's Rust threads)
 *   postgres   DATABASE_URL=$TEST_DATABASE_URL (PostgreSQL outside the process); skipped without it
 * Bounded: each start is given 240 s; the whole run takes ~1–2 min on an idle 2-core machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { kbToMb, readProcMemory } from "./lib/rss.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const HANDBOOK = path.resolve(ROOT, "../shared/corpus/handbook");
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const SETTLE_S = Number(arg("settle", "5"));
const VARIANTS = arg("variants", "embedded,arena2,postgres").split(",");

interface Started {
  child: ChildProcess;
  url: string;
  readyMs: number;
}

async function start(env: Record<string, string>): Promise<Started> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, "bin/atom.js"), "serve"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start in 240 s\n${out.slice(-2000)}`)), 240_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*atom is listening/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (c) => reject(new Error(`exited ${c}\n${out.slice(-2000)}`)));
  });
  // Ready = /readyz 200 and the docs folder synced at least once.
  const deadline = Date.now() + 240_000;
  for (;;) {
    const r = await fetch(`${url}/readyz`).catch(() => undefined);
    const body = r ? await r.text() : "";
    if (r?.status === 200 && body.includes("synced at")) break;
    if (Date.now() > deadline) throw new Error(`not ready in 240 s: ${body}`);
    await new Promise((res) => setTimeout(res, 250));
  }
  return { child, url, readyMs: performance.now() - t0 };
}

async function stop(s: Started): Promise<void> {
  const done = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await done;
}

function smaps(pid: number): { anonMb: number; fileMb: number } {
  const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t)?.[1] ?? 0);
  return { anonMb: kbToMb(kb("Anonymous")), fileMb: kbToMb(kb("Rss") - kb("Anonymous")) };
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text().catch(() => "");
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "gm");
  let sum: number | undefined;
  for (const m of text.matchAll(re)) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

if (!fs.existsSync(HANDBOOK)) {
  console.log(`skipped: ${HANDBOOK} is absent`);
  process.exit(0);
}
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-footprint-"));
const base = {
  ATOM_DATA_DIR: dataDir,
  ATOM_DOCS_DIR: HANDBOOK,
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "info",
};
const rows: Record<string, unknown>[] = [];
try {
  const first = await start(base);
  const m0 = readProcMemory(first.child.pid!);
  rows.push({
    variant: "first start (indexes)",
    readyS: first.readyMs / 1000,
    rssMb: kbToMb(m0.rssKb),
    peakMb: kbToMb(m0.hwmKb),
  });
  await stop(first);
  let pgSchema: string | undefined;
  for (const v of VARIANTS) {
    const env: Record<string, string> = { ...base };
    if (v === "arena2") env.MALLOC_ARENA_MAX = "2";
    if (v === "postgres") {
      const url = process.env.TEST_DATABASE_URL;
      if (!url) {
        console.log("postgres variant skipped: TEST_DATABASE_URL is not set");
        continue;
      }
      pgSchema = `bench_footprint_${process.pid}`;
      const c = new Client({ connectionString: url });
      await c.connect();
      await c.query(`CREATE SCHEMA ${pgSchema}`);
      await c.end();
      env.DATABASE_URL = `${url}${url.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${pgSchema}`)}`;
      env.MALLOC_ARENA_MAX = "2";
    }
    const s = await start(env);
    await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
    const m = readProcMemory(s.child.pid!);
    const split = smaps(s.child.pid!);
    rows.push({
      variant: v,
      readyS: Math.round(s.readyMs / 100) / 10,
      rssMb: kbToMb(m.rssKb),
      peakMb: kbToMb(m.hwmKb),
      ...split,
      v8HeapMb: Math.round(((await metric(s.url, "nodejs_heap_size_used_bytes")) ?? 0) / 1e5) / 10,
      externalMb: Math.round(((await metric(s.url, "nodejs_external_memory_bytes")) ?? 0) / 1e5) / 10,
    });
    await stop(s);
    if (pgSchema) {
      const c = new Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
      await c.end();
    }
  }
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
console.log(
  `load average at end: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.table(rows);
