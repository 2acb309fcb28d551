/**
 * Where the idle memory of `atom serve` goes: loads Atom's parts one at a time in this process and
 * prints VmRSS after each step (after a GC when run with --expose-gc).
 *
 *   node --expose-gc --import tsx bench/footprint-parts.ts
 *
 * Indexes the handbook first with `atom ingest` in a child process (so this process never carries
 * the indexing), then: Node + tsx → all of Atom's modules (`src/main.ts`, which loads the Slack,
 * Teams, Google, OpenAI… SDKs) → PGlite opened on the data dir + migrations → LanceDB memory opened
 * → one search (FTS index, tenant vocabulary) → 50 searches.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { kbToMb, readProcMemory } from "./lib/rss.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const HANDBOOK = path.resolve(ROOT, "../shared/corpus/handbook");
const rows: { step: string; rssMb: number; deltaMb: number; heapMb: number; externalMb: number }[] = [];
let last = 0;
const mark = (step: string) => {
  (globalThis as { gc?: () => void }).gc?.();
  const rss = kbToMb(readProcMemory(process.pid).rssKb);
  const m = process.memoryUsage();
  rows.push({
    step,
    rssMb: rss,
    deltaMb: Math.round((rss - last) * 10) / 10,
    heapMb: Math.round(m.heapUsed / 1e5) / 10,
    externalMb: Math.round(m.external / 1e5) / 10,
  });
  last = rss;
};

mark("node + tsx");
if (!fs.existsSync(HANDBOOK)) {
  console.log(`skipped: ${HANDBOOK} is absent`);
  process.exit(0);
}
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-parts-"));
try {
  execFileSync(process.execPath, [path.join(ROOT, "bin/atom.js"), "ingest", HANDBOOK], {
    env: { ...process.env, ATOM_DATA_DIR: dataDir, LOG_LEVEL: "warn" },
    stdio: "ignore",
    timeout: 300_000,
  });
  const main = await import("../src/main.ts");
  const { loadConfig } = await import("../src/config.ts");
  mark("+ Atom's modules (all SDKs)");
  const { openPglite, migrate } = await import("../src/db/index.ts");
  const db = await openPglite(path.join(dataDir, "pglite"));
  await migrate(db);
  mark("+ PGlite opened, migrated");
  const { openMemory } = await import("../src/memory/memory.ts");
  const { createLogger } = await import("../src/observability/logger.ts");
  const memory = await openMemory({ db, uri: path.join(dataDir, "lancedb"), logger: createLogger("silent") });
  mark("+ LanceDB memory opened");
  const opts = { tenantId: "default", principals: ["anyone"] };
  await memory.search("home office budget", opts);
  mark("+ first search (FTS index, vocabulary)");
  const qs = ["parental leave", "on call rotation", "expense approval", "security incident", "vacation days"];
  for (let i = 0; i < 50; i++) await memory.search(qs[i % qs.length]!, opts);
  mark("+ 50 searches");
  await memory.close();
  await db.close();
  void main;
  void loadConfig;
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
console.log(
  `load average: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.table(rows);
