/**
 * Memory at scale: a generated table of N passages, streamed into LanceDB, then Memory.search
 * latency with 1 and 8 concurrent callers, against the flat scan (the same search before the index
 * exists) measured in the same run.
 *
 *   node --import tsx bench/scale.ts --chunks 100000 [--seconds 20] [--flat-seconds 20]
 *     [--data DIR]   keep the table in DIR; a later run with the same DIR reuses it (no ingest,
 *                    index build or flat scan): two versions compared on one table
 *     [--no-flat] [--no-eight]   skip the flat scan / the 8-caller phase
 *
 * Text: sentences, titles and headings of `../shared/corpus/handbook` recombined (seeded), 50
 * tenants, each with 8 groups and 40 users; ACLs 40 % anyone, 30 % a group, 20 % a group and a
 * user, 10 % a user; four sources (folder, Google Drive, OneDrive, notes). Rows are generated and
 * written 5000 at a time (`ChunkStore.addRows`), never all in memory. Queries: the questions of
 * `eval/handbook-qa.jsonl`, each asked by a random tenant's user with `anyone`, two groups and
 * their own e-mail. Reports ingest rate, peak RSS while ingesting (VmHWM), index build time
 * (`refreshIndex`: compaction, FTS, BTREE tenant_id, LABEL_LIST acl), p50/p95/p99 in ms, and the
 * data size on disk. Bounded: each latency phase samples for `--seconds` (flat: `--flat-seconds`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrate, openPglite } from "../src/db/index.ts";
import { Memory } from "../src/memory/memory.ts";
import { ChunkStore } from "../src/memory/store.ts";
import type { ChunkDraft, DocumentMeta, SearchOptions } from "../src/memory/types.ts";
import { createLogger } from "../src/observability/logger.ts";
import { kbToMb, readProcMemory } from "./lib/rss.ts";
import { round, summarize } from "./lib/stats.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const HANDBOOK = path.resolve(ROOT, "../shared/corpus/handbook");
const QA = path.resolve(ROOT, "../shared/corpus/eval/handbook-qa.jsonl");
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const CHUNKS = Number(arg("chunks", "100000"));
const SECONDS = Number(arg("seconds", "20"));
const FLAT_SECONDS = Number(arg("flat-seconds", "20"));
const TENANTS = 50;
/** Keep the generated table in this directory and reuse it on the next run (skips ingest and index build). */
const DATA = arg("data", "");
/** Skip the flat-scan baseline (only with a reused `--data` table, which is already indexed). */
const FLAT = !process.argv.includes("--no-flat");
const SOURCES = ["folder:shared-drive", "gdrive:company", "onedrive:finance", "notes"];

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sentences, titles and headings of the handbook's markdown files. */
function handbookPool() {
  const sentences: string[] = [];
  const titles: string[] = [];
  const headings: string[] = [];
  for (const f of fs.readdirSync(HANDBOOK, { recursive: true }).map(String)) {
    if (!f.endsWith(".md")) continue;
    const text = fs.readFileSync(path.join(HANDBOOK, f), "utf8");
    for (const line of text.split("\n")) {
      const h = /^#{1,6}\s+(.+)/.exec(line);
      if (h) (h[0].startsWith("# ") ? titles : headings).push(h[1]!.trim());
      else
        for (const s of line.split(/(?<=[.!?])\s+/u)) {
          const t = s.trim();
          if (t.length >= 30 && t.length <= 400) sentences.push(t);
        }
    }
  }
  return { sentences, titles, headings };
}

/** Generated documents, `total` chunks in all, one batch of about 5000 chunks at a time. */
function* batches(total: number, pool: ReturnType<typeof handbookPool>) {
  const r = rng(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  let made = 0;
  let batch: { meta: DocumentMeta; chunks: ChunkDraft[] }[] = [];
  let rows = 0;
  for (let d = 0; made < total; d++) {
    const t = d % TENANTS;
    const group = () => `group:t${t}g${Math.floor(r() * 8)}`;
    const user = `u${Math.floor(r() * 40)}@t${t}.example.com`;
    const roll = r();
    const acl = roll < 0.4 ? ["anyone"] : roll < 0.7 ? [group()] : roll < 0.9 ? [group(), user] : [user];
    const title = pick(pool.titles);
    const n = Math.min(total - made, 2 + Math.floor(r() * 14));
    const chunks: ChunkDraft[] = [];
    for (let c = 0; c < n; c++) {
      const parts: string[] = [];
      const k = 2 + Math.floor(r() * 4);
      for (let i = 0; i < k; i++) parts.push(pick(pool.sentences));
      chunks.push({
        chunkIndex: c,
        headings: [title, pick(pool.headings)],
        text: parts.join(" ").slice(0, 1500),
      });
    }
    made += n;
    rows += n;
    batch.push({
      meta: {
        tenantId: `t${t}`,
        source: SOURCES[d % SOURCES.length]!,
        docId: `doc-${d}`,
        title,
        uri: `docs/doc-${d}.md`,
        mime: "text/markdown",
        modifiedAt: Date.UTC(2026, 0, 1) + d * 60_000,
        acl,
      },
      chunks,
    });
    if (rows >= 5000) {
      yield batch;
      batch = [];
      rows = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/** Memory.search latencies with `callers` concurrent callers for `seconds`. */
async function measure(
  memory: Memory,
  asks: { q: string; opts: SearchOptions }[],
  callers: number,
  seconds: number,
) {
  const samples: number[] = [];
  let hits = 0;
  const until = performance.now() + seconds * 1000;
  let next = 0;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        const a = asks[next++ % asks.length]!;
        const t0 = performance.now();
        const r = await memory.search(a.q, a.opts);
        samples.push(performance.now() - t0);
        hits += r.hits.length;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const s = summarize(samples);
  return {
    /** Process CPU (all threads) per search, ms: what a search costs on an otherwise idle core. */
    cpuMsPerCall: round((used.user + used.system) / 1000 / Math.max(1, samples.length)),
    callers,
    n: s.n,
    p50: round(s.p50),
    p95: round(s.p95),
    p99: round(s.p99),
    perSec: round(s.n / seconds),
    meanHits: round(hits / Math.max(1, s.n)),
  };
}

function dirMb(dir: string): number {
  let total = 0;
  for (const f of fs.readdirSync(dir, { recursive: true }).map(String)) {
    const st = fs.statSync(path.join(dir, f));
    if (st.isFile()) total += st.size;
  }
  return round(total / 1048576);
}

if (!fs.existsSync(HANDBOOK) || !fs.existsSync(QA)) {
  console.log("skipped: ../shared/corpus (handbook, eval/handbook-qa.jsonl) is absent");
  process.exit(0);
}
const loadStart = os.loadavg().map((l) => round(l, 2));
const tmp = DATA ? path.resolve(DATA) : fs.mkdtempSync(path.join(os.tmpdir(), "atom-scale-"));
const reuse = DATA !== "" && fs.existsSync(path.join(tmp, "lancedb", "chunks.lance"));
try {
  const pool = handbookPool();
  const db = await openPglite("memory://");
  await migrate(db);
  const store = await ChunkStore.open(path.join(tmp, "lancedb"));
  const memory = new Memory(db, store, createLogger("silent"));

  const t0 = performance.now();
  let written = reuse ? await store.count() : 0;
  if (reuse) console.error(`reusing ${written} chunks in ${tmp}`);
  else
    for (const b of batches(CHUNKS, pool)) {
      await store.addRows(b);
      written += b.reduce((s, d) => s + d.chunks.length, 0);
      if (written % 100_000 < 5000) console.error(`ingested ${written}`);
    }
  const ingestS = (performance.now() - t0) / 1000;
  const ingestPeak = kbToMb(readProcMemory(process.pid).hwmKb);

  const r = rng(7);
  const questions = fs
    .readFileSync(QA, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => String(JSON.parse(l).question));
  const asks = questions.map((q) => {
    const t = Math.floor(r() * TENANTS);
    return {
      q,
      opts: {
        tenantId: `t${t}`,
        principals: [
          "anyone",
          `group:t${t}g1`,
          `group:t${t}g2`,
          `u${Math.floor(r() * 40)}@t${t}.example.com`,
        ],
      },
    };
  });
  // Flat scan: the same searches before any index exists (LanceDB scores every row of the tenant).
  let flat: Awaited<ReturnType<typeof measure>> | undefined;
  if (!reuse && FLAT) {
    await memory.search(asks[0]!.q, asks[0]!.opts);
    flat = await measure(memory, asks, 1, FLAT_SECONDS);
  }

  const i0 = performance.now();
  if (!reuse) await store.refreshIndex();
  const indexS = (performance.now() - i0) / 1000;
  // A fresh Memory: the first one would see the index build as another writer's change within 30 s
  // and rebuild every tenant's vocabulary in the middle of the timed searches.
  const indexed = new Memory(db, store, createLogger("silent"));
  // Warm-up: vocabularies of the asking tenants and the index caches.
  for (const a of asks) await indexed.search(a.q, a.opts);
  const one = await measure(indexed, asks, 1, SECONDS);
  const eight = process.argv.includes("--no-eight") ? undefined : await measure(indexed, asks, 8, SECONDS);
  const mem = readProcMemory(process.pid);
  const result = {
    chunks: written,
    tenants: TENANTS,
    ingestSeconds: round(ingestS),
    ingestRowsPerSec: Math.round(written / ingestS),
    ingestPeakRssMb: ingestPeak,
    indexBuildSeconds: round(indexS),
    diskMb: dirMb(path.join(tmp, "lancedb")),
    flatScan1: flat,
    indexed1: one,
    indexed8: eight,
    rssAfterMb: kbToMb(mem.rssKb),
    peakRssMb: kbToMb(mem.hwmKb),
    loadStart,
    loadEnd: os.loadavg().map((l) => round(l, 2)),
  };
  console.log(JSON.stringify(result, null, 2));
  await memory.close();
  await db.close();
} finally {
  if (!DATA) fs.rmSync(tmp, { recursive: true, force: true });
}
