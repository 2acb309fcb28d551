/**
 * Memory benchmarks (see bench/README.md for the figures measured on the reference machine):
 *
 *   1. Ingest: the real handbook (../shared/corpus/handbook, read in place) through extract + chunk
 *      + LanceDB + FTS index into an empty data dir, then a second, unchanged sync.
 *   2. Search latency on the handbook memory through `Memory.search` (what answers use), over the
 *      questions of ../shared/corpus/eval/handbook-qa.jsonl and their keyword forms, with the
 *      LanceDB and ranking parts timed apart, beside two unindexed baselines measured in the same run.
 *   3. The same on a generated table of 100k chunks (handbook sentences recombined; several tenants,
 *      group and user ACLs so the filters do real work).
 *   4. Idle RSS of `atom serve` (embedded PGlite + LanceDB) after it indexed the handbook.
 *
 *   node --import tsx bench/memory.ts [--quick] [--chunks 100000] [--rounds 4] [--index-timeout 180]
 *
 * Everything runs on local disk in temp dirs that are removed at the end; results are printed as
 * tables and written to bench/results/memory-<time>.json (and memory-latest.json).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { migrate, openPglite } from "../src/db/index.ts";
import { queryTerms } from "../src/memory/analyze.ts";
import { chunkDocument } from "../src/memory/chunk.ts";
import { extractDocument, isSupportedFile } from "../src/memory/extract/index.ts";
import { Memory, openMemory } from "../src/memory/memory.ts";
import { analyzeQuery, DEFAULT_RANKING, rankDocuments, searchFilter } from "../src/memory/search.ts";
import { CHUNK_COLUMNS, type ChunkRow, ChunkStore, eq, sqlString } from "../src/memory/store.ts";
import type { ChunkDraft, DocumentMeta, SearchOptions } from "../src/memory/types.ts";
import { Vocabulary } from "../src/memory/vocabulary.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { formatTable, numberArg, writeResults } from "./lib/output.ts";
import { kbToMb, readProcMemory } from "./lib/rss.ts";
import { type LatencySummary, round, summarize } from "./lib/stats.ts";
import { type SampleOptions, sampleLatencies, TimeoutError, timed, withTimeout } from "./lib/timing.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CORPUS = path.resolve(ROOT, "../shared/corpus");
const HANDBOOK = path.join(CORPUS, "handbook");
const QA_FILE = path.join(CORPUS, "eval/handbook-qa.jsonl");
const RESULTS_DIR = path.join(ROOT, "bench/results");

/** Budgets of DESIGN.md ("Budgets"). */
const BUDGET = { ingestPagesPerSec: 100, searchP95Ms100k: 50, idleRssMb: 250 };

/** Columns `searchChunks` reads (the baselines fetch the same ones). */
const SELECT = CHUNK_COLUMNS;

interface Settings {
  quick: boolean;
  /** Timed passes over the query list (Memory.search and its parts). */
  rounds: number;
  /** Size of the generated table. */
  chunks: number;
  /** Wall-time cap of each baseline's sampling, ms. */
  baselineMaxMs: number;
  /** Give up on the generated table's FTS index build after this long (see README: LanceDB hang). */
  indexTimeoutMs: number;
  /** Seconds `atom serve` idles after /readyz before RSS is read. */
  settleSeconds: number;
}

function settings(argv: string[]): Settings {
  const quick = argv.includes("--quick");
  return {
    quick,
    rounds: numberArg(argv, "rounds", quick ? 1 : 4),
    chunks: numberArg(argv, "chunks", quick ? 20_000 : 100_000),
    baselineMaxMs: quick ? 1_500 : 8_000,
    indexTimeoutMs: numberArg(argv, "index-timeout", quick ? 60 : 180) * 1000,
    settleSeconds: quick ? 3 : 5,
  };
}

// ---------------------------------------------------------------------------------------------
// Queries

/**
 * The benchmark queries: each question of the QA file as asked, plus its keyword form (its first
 * four topical words, stop words removed, e.g. "Max PR size?" → "max pr size"), deduplicated.
 */
function loadQueries(file: string): string[] {
  const out = new Set<string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const q = String((JSON.parse(line) as { question: string }).question);
    out.add(q);
    const keywords = queryTerms(q)
      .slice(0, 4)
      .map((t) => t.token)
      .join(" ");
    if (keywords) out.add(keywords);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Search latency: Memory.search, its parts, and the baselines

/** A latency summary plus the process CPU time (all threads, incl. LanceDB's) per call, ms. */
type Timed = LatencySummary & { cpuMsPerCall: number };

/**
 * Samples like `sampleLatencies` and adds the process CPU time per recorded call (user + system,
 * every thread), which a busy machine inflates far less than wall time. Warm-up calls are excluded.
 */
async function sampleWithCpu<I>(
  inputs: readonly I[],
  fn: (input: I) => Promise<unknown>,
  opts: SampleOptions,
): Promise<Timed> {
  if (opts.warmupRounds) await sampleLatencies(inputs, fn, { rounds: opts.warmupRounds });
  const cpu = process.cpuUsage();
  const samples = await sampleLatencies(inputs, fn, { ...opts, warmupRounds: 0 });
  const used = process.cpuUsage(cpu);
  return { ...summarize(samples), cpuMsPerCall: round((used.user + used.system) / 1000 / samples.length, 2) };
}

interface SearchBench {
  /** What a user waits for: `Memory.search` wall time (analysis + LanceDB FTS + ranking). */
  memorySearch: Timed;
  /** The indexed LanceDB FTS query alone (same text, filter, columns and limit as Memory.search). */
  lanceFts: Timed;
  /** The JS part alone: query analysis + `rankDocuments` on pre-fetched candidates. */
  jsRanking: Timed;
  /** Baseline 1: the same FTS query on a copy of the table that has no FTS index (flat BM25 scan). */
  baselineFlatFts: Timed;
  /** Baseline 2: substring scan, `lower(fts) LIKE '%term%'` OR-ed over the query terms, no limit. */
  baselineLikeScan: Timed;
  /** Mean candidate rows the FTS query returned, and mean rows the LIKE scan matched. */
  meanFtsRows: number;
  meanLikeRows: number;
  /** Chunks the asker may read (tenant + ACL filter) and chunks in the table. */
  visibleChunks: number;
  tableChunks: number;
}

/** Same query as `searchChunks` sends to LanceDB. */
function ftsQuery(table: lancedb.Table, text: string, opts: SearchOptions) {
  return table
    .query()
    .fullTextSearch(text, { columns: "fts" })
    .where(searchFilter(opts))
    .select(["_score", ...SELECT])
    .limit(DEFAULT_RANKING.candidates);
}

/** The substring-scan baseline's filter: tenant + ACL + any query word anywhere in the indexed text. */
function likeFilter(tokens: string[], opts: SearchOptions): string {
  const any = tokens.map((t) => `lower(fts) LIKE ${sqlString(`%${t}%`)}`).join(" OR ");
  return `${searchFilter(opts)} AND (${any})`;
}

/** A tenant's vocabulary, built as Memory builds it (every chunk text of the tenant). */
async function tenantVocabulary(table: lancedb.Table, tenantId: string): Promise<Vocabulary> {
  const vocab = new Vocabulary();
  const rows = await table.query().where(eq("tenant_id", tenantId)).select(["text"]).toArray();
  for (const r of rows) vocab.update(String(r.text));
  return vocab;
}

async function benchSearch(
  label: string,
  memory: Memory,
  unindexed: lancedb.Table,
  queries: string[],
  opts: SearchOptions,
  s: Settings,
): Promise<SearchBench> {
  const table = memory.store.chunks;
  const vocab = await tenantVocabulary(table, opts.tenantId);
  const analyzed = queries.map((q) => analyzeQuery(q, vocab)).filter((a) => a.concepts.length > 0);
  log(`${label}: ${queries.length} queries, ${s.rounds} rounds after one warm-up round`);

  const memorySearch = await sampleWithCpu(queries, (q) => memory.search(q, opts), {
    rounds: s.rounds,
    warmupRounds: 1,
  });

  const ftsRows = new Map<string, ChunkRow[]>();
  const lanceFts = await sampleWithCpu(
    analyzed,
    async (a) => {
      const rows = (await ftsQuery(table, a.text, opts).toArray()) as ChunkRow[];
      ftsRows.set(a.text, rows);
    },
    { rounds: s.rounds, warmupRounds: 1 },
  );
  const jsRanking = await sampleWithCpu(
    queries,
    async (q) => {
      const a = analyzeQuery(q, vocab);
      if (a.concepts.length > 0) rankDocuments(ftsRows.get(a.text) ?? [], a, DEFAULT_RANKING);
    },
    { rounds: s.rounds, warmupRounds: 1 },
  );

  log(`${label}: baselines (each capped at ${s.baselineMaxMs / 1000} s)`);
  const baselineFlatFts = await sampleWithCpu(analyzed, (a) => ftsQuery(unindexed, a.text, opts).toArray(), {
    rounds: s.rounds,
    warmupRounds: 0,
    maxMs: s.baselineMaxMs,
    minSamples: 5,
  });
  const likeCounts: number[] = [];
  const baselineLikeScan = await sampleWithCpu(
    analyzed,
    async (a) => {
      const tokens = a.concepts.flatMap((c) => c.variants.map((v) => v.token));
      const rows = await table.query().where(likeFilter(tokens, opts)).select(SELECT).toArray();
      likeCounts.push(rows.length);
    },
    { rounds: s.rounds, warmupRounds: 0, maxMs: s.baselineMaxMs, minSamples: 5 },
  );
  const counts = [...ftsRows.values()].map((r) => r.length);
  return {
    memorySearch,
    lanceFts,
    jsRanking,
    baselineFlatFts,
    baselineLikeScan,
    meanFtsRows: round(counts.reduce((a, b) => a + b, 0) / Math.max(counts.length, 1)),
    meanLikeRows: round(likeCounts.reduce((a, b) => a + b, 0) / Math.max(likeCounts.length, 1)),
    visibleChunks: await table.countRows(searchFilter(opts)),
    tableChunks: await table.countRows(),
  };
}

/** Copies every row of `table` into a new table without any index (the flat-scan baseline). */
async function unindexedCopy(table: lancedb.Table, dir: string): Promise<lancedb.Table> {
  const conn = await lancedb.connect(dir);
  const copy = await conn.createEmptyTable("chunks", await table.schema());
  const rows = await table.query().toArray();
  for (let i = 0; i < rows.length; i += 5000) {
    await copy.add(
      rows.slice(i, i + 5000).map((r) => ({ ...r, acl: Array.from(r.acl as Iterable<string>) })),
    );
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// Generated table

/** Deterministic PRNG (mulberry32): the generated table is the same on every run. */
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

const SYNTH_TENANTS = ["t0", "t1", "t2", "t3"];
const SYNTH_GROUPS = Array.from({ length: 8 }, (_, i) => `group:g${i}`);
/** Who searches the generated table: tenant t0, two of the eight groups, one user. */
const SYNTH_ASKER: SearchOptions = {
  tenantId: "t0",
  principals: ["anyone", "group:g1", "group:g2", "user:u1@example.com"],
};

/**
 * Documents for the generated table, `total` chunks in all: sentences of the handbook's chunks
 * recombined 2–5 at a time, titles and headings drawn from the handbook; documents spread over four
 * tenants; ACLs: 40 % anyone, 30 % one group, 20 % a group and a user, 10 % one user.
 */
function generateDocuments(
  total: number,
  pool: { sentences: string[]; titles: string[]; headings: string[] },
): { meta: DocumentMeta; chunks: ChunkDraft[] }[] {
  const r = rng(42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const docs: { meta: DocumentMeta; chunks: ChunkDraft[] }[] = [];
  let made = 0;
  for (let d = 0; made < total; d++) {
    const tenantId = SYNTH_TENANTS[d % SYNTH_TENANTS.length]!;
    const roll = r();
    const user = `user:u${Math.floor(r() * 20)}@example.com`;
    const acl =
      roll < 0.4
        ? ["anyone"]
        : roll < 0.7
          ? [pick(SYNTH_GROUPS)]
          : roll < 0.9
            ? [pick(SYNTH_GROUPS), user]
            : [user];
    const title = pick(pool.titles);
    const n = Math.min(total - made, 4 + Math.floor(r() * 12));
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
    docs.push({
      meta: {
        tenantId,
        source: "folder:synthetic",
        docId: `doc-${d}.md`,
        title,
        uri: `synthetic/doc-${d}.md`,
        mime: "text/markdown",
        modifiedAt: Date.UTC(2026, 0, 1) + d * 60_000,
        acl,
      },
      chunks,
    });
  }
  return docs;
}

/** Sentences, titles and headings of the handbook memory, for the generated table. */
async function handbookPool(table: lancedb.Table) {
  const rows = await table.query().select(["title", "headings", "text"]).toArray();
  const sentences = new Set<string>();
  const titles = new Set<string>();
  const headings = new Set<string>();
  for (const row of rows) {
    titles.add(String(row.title));
    for (const h of String(row.headings).split(" > ")) if (h) headings.add(h);
    for (const sentence of String(row.text).split(/(?<=[.!?])\s+|\n+/u)) {
      const t = sentence.trim();
      if (t.length >= 30 && t.length <= 400) sentences.add(t);
    }
  }
  return { sentences: [...sentences], titles: [...titles], headings: [...headings] };
}

/** Adds the documents in writes of about 5000 rows, as a first sync does. */
async function addInBatches(store: ChunkStore, docs: { meta: DocumentMeta; chunks: ChunkDraft[] }[]) {
  let batch: typeof docs = [];
  let rows = 0;
  for (const doc of docs) {
    batch.push(doc);
    rows += doc.chunks.length;
    if (rows >= 5000) {
      await store.addRows(batch);
      batch = [];
      rows = 0;
    }
  }
  await store.addRows(batch);
}

// ---------------------------------------------------------------------------------------------
// atom serve idle RSS

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ServeMemory {
  /** From spawn until /readyz answered 200 (includes indexing the handbook). */
  readyMs: number;
  settleSeconds: number;
  /** VmRSS after settling, MB. */
  idleRssMb: number;
  /** VmHWM (peak RSS, reached while indexing), MB. */
  peakRssMb: number;
  /** VmRSS once per second while settling, MB. */
  rssSamplesMb: number[];
}

/** Environment of the spawned server: the embedded default (no Postgres, no chat or AI platforms). */
function serveEnv(port: number, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(SLACK_|MICROSOFT_|DEEPGRAM_|OPENAI_|ANTHROPIC_|ATOM_|DATABASE_URL|LANCEDB_URI)/.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    ATOM_DATA_DIR: dataDir,
    ATOM_DOCS_DIR: HANDBOOK,
  };
}

async function benchServe(dataDir: string, s: Settings): Promise<ServeMemory> {
  const port = await freePort();
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, "bin/atom.js"), "serve"], {
    cwd: ROOT,
    env: serveEnv(port, dataDir),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  try {
    const deadline = started + 120_000;
    for (;;) {
      if (!alive) throw new Error(`atom serve exited before it was ready:\n${stderr}`);
      if (performance.now() > deadline) throw new Error(`atom serve not ready after 120 s:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) break;
      await sleep(200);
    }
    const readyMs = performance.now() - started;
    const samples: number[] = [];
    for (let i = 0; i < s.settleSeconds; i++) {
      await sleep(1000);
      samples.push(kbToMb(readProcMemory(child.pid!).rssKb));
    }
    const final = readProcMemory(child.pid!);
    return {
      readyMs: Math.round(readyMs),
      settleSeconds: s.settleSeconds,
      idleRssMb: kbToMb(final.rssKb),
      peakRssMb: kbToMb(final.hwmKb),
      rssSamplesMb: samples,
    };
  } finally {
    if (alive) {
      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

function log(msg: string): void {
  process.stderr.write(`[bench:memory] ${msg}\n`);
}

const ms = (x: number) => round(x, 1);
const latencyRow = (name: string, l: Timed, note = "") => [
  name,
  l.n,
  ms(l.p50),
  ms(l.p95),
  ms(l.p99),
  ms(l.mean),
  l.cpuMsPerCall,
  note,
];

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  if (!fs.existsSync(HANDBOOK) || !fs.existsSync(QA_FILE)) {
    console.log(`Skipped: the corpus is not at ${CORPUS} (needs handbook/ and eval/handbook-qa.jsonl).`);
    return;
  }
  const benchStarted = performance.now();
  const loadStart = os.loadavg().map((x) => round(x, 2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-memory-"));
  try {
    // 1. Ingest ------------------------------------------------------------------------------
    const files = listFiles(HANDBOOK).filter((f) => isSupportedFile(f));
    log(`ingest: ${files.length} handbook files, extract + chunk only (sequential, no storage)`);
    const extractOnly = await timed(async () => {
      let chunks = 0;
      for (const f of files) {
        const doc = await extractDocument({ bytes: fs.readFileSync(f), fileName: path.basename(f) });
        chunks += chunkDocument(doc).length;
      }
      return chunks;
    });
    const db = await openPglite(path.join(tmp, "data/pglite"));
    await migrate(db);
    const memory = await openMemory({ db, uri: path.join(tmp, "data/lancedb"), logger: silentLogger });
    log("ingest: first sync into an empty data dir");
    const first = await timed(() => memory.syncFolder(HANDBOOK, { tenantId: "default" }));
    log("ingest: second, unchanged sync");
    const second = await timed(() => memory.syncFolder(HANDBOOK, { tenantId: "default" }));
    const indexed = first.value.added + first.value.updated;
    const ingest = {
      files: indexed,
      chunks: first.value.chunks,
      errors: first.value.errors.length,
      skipped: first.value.skipped.length,
      firstSyncMs: Math.round(first.ms),
      filesPerSec: round(indexed / (first.ms / 1000)),
      chunksPerSec: Math.round(first.value.chunks / (first.ms / 1000)),
      extractChunkOnlyMs: Math.round(extractOnly.ms),
      secondSyncMs: round(second.ms),
      secondUnchanged: second.value.unchanged,
      speedup: round(first.ms / second.ms),
      budgetPagesPerSec: BUDGET.ingestPagesPerSec,
      withinBudget: indexed / (first.ms / 1000) >= BUDGET.ingestPagesPerSec,
    };

    // 2. Search on the handbook ----------------------------------------------------------------
    const queries = loadQueries(QA_FILE);
    const hbCopy = await unindexedCopy(memory.store.chunks, path.join(tmp, "handbook-noindex"));
    const handbook = await benchSearch(
      "handbook search",
      memory,
      hbCopy,
      queries,
      { tenantId: "default", principals: ["anyone"] },
      s,
    );

    // 3. Generated table -------------------------------------------------------------------------
    log(`generated table: ${s.chunks} chunks`);
    const pool = await handbookPool(memory.store.chunks);
    const gen = await timed(async () => generateDocuments(s.chunks, pool));
    const synthStore = await ChunkStore.open(path.join(tmp, "synthetic/lancedb"));
    const add = await timed(() => addInBatches(synthStore, gen.value));
    let indexError: string | null = null;
    const cpuBeforeIndex = process.cpuUsage();
    const index = await timed(() =>
      withTimeout(
        synthStore.refreshIndex(),
        s.indexTimeoutMs,
        "FTS index build of the generated table",
      ).catch((err: unknown) => {
        if (!(err instanceof TimeoutError)) throw err;
        const cpu = process.cpuUsage(cpuBeforeIndex);
        const cpuSeconds = round((cpu.user + cpu.system) / 1e6, 1);
        indexError = `${err.message} (LANCE_CPU_THREADS=${process.env.LANCE_CPU_THREADS ?? "unset"}; ${cpuSeconds} s of CPU used meanwhile; see bench/README.md, "LanceDB hang on small hosts")`;
        log(indexError);
      }),
    );
    // After a hang LanceDB's CPU pool is stuck: touch no LanceDB table again in this process.
    const synthCopyStore = indexError
      ? null
      : await ChunkStore.open(path.join(tmp, "synthetic-noindex/lancedb"));
    const copy = synthCopyStore ? await timed(() => addInBatches(synthCopyStore, gen.value)) : null;
    const synthMemory = new Memory(db, synthStore, silentLogger);
    const synthetic =
      synthCopyStore && copy
        ? await benchSearch(
            `${s.chunks}-chunk search`,
            synthMemory,
            synthCopyStore.chunks,
            queries,
            SYNTH_ASKER,
            s,
          )
        : null;
    const build = {
      chunks: s.chunks,
      documents: gen.value.length,
      sentencesInPool: pool.sentences.length,
      generateMs: Math.round(gen.ms),
      addRowsMs: Math.round(add.ms),
      ftsIndexMs: Math.round(index.ms),
      buildMs: Math.round(add.ms + index.ms),
      indexError,
      unindexedCopyMs: copy ? Math.round(copy.ms) : null,
      dataDirMb: round(dirSize(path.join(tmp, "synthetic")) / 1048576),
    };
    if (synthCopyStore) {
      await synthMemory.close();
      await synthCopyStore.close();
      await memory.close();
      await db.close();
    }

    // 4. Idle RSS of atom serve -------------------------------------------------------------------
    log("atom serve: first start on an empty data dir (indexes the handbook), then idling");
    const serveDir = path.join(tmp, "serve-data");
    const firstStart = await benchServe(serveDir, s);
    let restart: ServeMemory | null = null;
    if (!s.quick) {
      log("atom serve: restart on the same data dir (handbook already indexed), then idling");
      restart = await benchServe(serveDir, s);
    }

    const results = {
      benchmark: "memory",
      date: new Date().toISOString(),
      quick: s.quick,
      machine: {
        cpus: os.cpus().length,
        cpu: os.cpus()[0]?.model,
        node: process.version,
        platform: os.platform(),
      },
      settings: s,
      queries: queries.length,
      baselines: {
        flatFts:
          "the same LanceDB full-text query (same text, tenant/ACL filter, columns, limit 200) on a copy of the table that has no FTS index: LanceDB scores every row with BM25 (flat search)",
        likeScan:
          "LanceDB filter scan without any index: tenant/ACL filter AND (lower(fts) LIKE '%word%' OR …) over the query's words, all matching rows returned, no ranking",
      },
      ingest,
      handbook,
      generated: { build, search: synthetic, asker: SYNTH_ASKER },
      serve: { firstStart, restart, budgetMb: BUDGET.idleRssMb },
      budgets: {
        ingest: ingest.withinBudget,
        search100kP95:
          s.chunks < 100_000 ? null : synthetic ? synthetic.memorySearch.p95 < BUDGET.searchP95Ms100k : false,
        idleRssFirstStart: firstStart.idleRssMb < BUDGET.idleRssMb,
        idleRssRestart: restart ? restart.idleRssMb < BUDGET.idleRssMb : null,
      },
      loadAverage: { start: loadStart, end: os.loadavg().map((x) => round(x, 2)) },
      totalSeconds: 0,
    };
    results.totalSeconds = round((performance.now() - benchStarted) / 1000);
    const file = writeResults(RESULTS_DIR, "memory", results);
    printReport(results);
    console.log(`\nResults: ${path.relative(process.cwd(), file)} (total ${results.totalSeconds} s)`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function printReport(r: {
  ingest: Record<string, number | boolean>;
  handbook: SearchBench;
  generated: {
    build: {
      chunks: number;
      documents: number;
      addRowsMs: number;
      ftsIndexMs: number;
      buildMs: number;
      dataDirMb: number;
      indexError: string | null;
    };
    search: SearchBench | null;
  };
  serve: { firstStart: ServeMemory; restart: ServeMemory | null };
  budgets: Record<string, boolean | null>;
  loadAverage: { start: number[]; end: number[] };
}): void {
  const i = r.ingest;
  const verdict = (ok: boolean | null) => (ok === null ? "n/a (table < 100k)" : ok ? "within" : "MISSED");
  console.log("\nIngest (handbook, first sync into an empty data dir)");
  console.log(
    formatTable([
      ["measure", "value", "budget"],
      ["files indexed", Number(i.files), ""],
      ["chunks", Number(i.chunks), ""],
      ["first sync, s", round(Number(i.firstSyncMs) / 1000, 2), ""],
      ["files/s", Number(i.filesPerSec), `>= ${BUDGET.ingestPagesPerSec} (${verdict(r.budgets.ingest!)})`],
      ["chunks/s", Number(i.chunksPerSec), ""],
      ["extract+chunk only, s", round(Number(i.extractChunkOnlyMs) / 1000, 2), ""],
      ["second sync (unchanged), ms", Number(i.secondSyncMs), ""],
      ["first / second", Number(i.speedup), ">= 10"],
    ]),
  );
  const sections: [string, SearchBench, string][] = [["Search latency, handbook (ms)", r.handbook, ""]];
  if (r.generated.search) {
    sections.push([
      `Search latency, generated ${r.generated.build.chunks} chunks (ms)`,
      r.generated.search,
      `p95 < ${BUDGET.searchP95Ms100k} (${verdict(r.budgets.search100kP95!)})`,
    ]);
  } else {
    console.log(`\nGenerated table: NOT MEASURED: ${r.generated.build.indexError}`);
  }
  for (const [title, b, budget] of sections) {
    console.log(
      `\n${title}; asker sees ${b.visibleChunks} of ${b.tableChunks} chunks; FTS returns ${b.meanFtsRows} candidates on average`,
    );
    console.log(
      formatTable([
        ["path", "n", "p50", "p95", "p99", "mean", "cpu/call", "note"],
        latencyRow("Memory.search", b.memorySearch, budget),
        latencyRow("  LanceDB FTS query alone", b.lanceFts),
        latencyRow("  JS analysis + ranking alone", b.jsRanking),
        latencyRow("baseline: FTS, no index", b.baselineFlatFts, "flat BM25 over every row"),
        latencyRow("baseline: LIKE scan", b.baselineLikeScan, `${b.meanLikeRows} rows matched on average`),
      ]),
    );
  }
  const g = r.generated.build;
  console.log(
    g.indexError
      ? `Build of the generated table: ${g.documents} documents; addRows ${round(g.addRowsMs / 1000, 1)} s; the FTS index did not finish`
      : `Build of the generated table: ${g.documents} documents; addRows ${round(g.addRowsMs / 1000, 1)} s + FTS index ${round(g.ftsIndexMs / 1000, 1)} s = ${round(g.buildMs / 1000, 1)} s (${g.dataDirMb} MB on disk)`,
  );
  console.log("\nIdle memory (atom serve, embedded PGlite + LanceDB, handbook indexed)");
  const runs: [string, ServeMemory][] = [["first start", r.serve.firstStart]];
  if (r.serve.restart) runs.push(["restart", r.serve.restart]);
  console.log(
    formatTable([
      ["run", "ready after, s", "idle RSS, MB", "peak RSS, MB", "budget"],
      ...runs.map(([name, m]) => [
        `${name} (idle ${m.settleSeconds} s)`,
        round(m.readyMs / 1000, 1),
        m.idleRssMb,
        m.peakRssMb,
        `< ${BUDGET.idleRssMb} (${verdict(m.idleRssMb < BUDGET.idleRssMb)})`,
      ]),
    ]),
  );
  console.log(
    `\nLoad average (1, 5, 15 min): ${r.loadAverage.start.join(", ")} at start, ${r.loadAverage.end.join(", ")} at end`,
  );
}

/** Files under `dir`, recursively (absolute paths). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Bytes under `dir`, recursively. */
function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : fs.statSync(p).size;
  }
  return total;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
