/**
 * Hybrid search with a workspace's embeddings on the real handbook, end to end, with the real
 * `openai` SDK against the loopback fake of test/integration/fakes/openai.ts (its vectors hash words
 * and trigrams: NOT semantic — this measures the plumbing and the cost, not retrieval quality):
 *
 *   1. sync the handbook (../shared/corpus/handbook, read in place) into an empty memory;
 *   2. one background round (ai/embed-job.ts) embeds every chunk into the space's vector table;
 *      a second round with nothing to do (what every later sync offers) is timed too;
 *   3. the questions of ../shared/corpus/eval/handbook-qa.jsonl searched full-text only and hybrid
 *      (`Memory.search`), hit@5 and latency (wall and CPU per call) for each.
 *
 *   node --import tsx bench/workspace-embeddings.ts [--model text-embedding-3-small] [--rounds 3]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate, openPglite } from "../src/db/index.ts";
import { openMemory } from "../src/memory/memory.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { wireEmbeddings } from "../test/helpers/embeddings.ts";
import { startFakeOpenAi } from "../test/integration/fakes/openai.ts";
import { formatTable, numberArg } from "./lib/output.ts";
import { round, summarize } from "./lib/stats.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CORPUS = path.resolve(ROOT, "../shared/corpus");
const HANDBOOK = path.join(CORPUS, "handbook");
const QA_FILE = path.join(CORPUS, "eval/handbook-qa.jsonl");
const TENANT = "bench";

interface Question {
  question: string;
  expected_paths: string[];
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function cpuMs(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then(() => {
    const c = process.cpuUsage(c0);
    return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
  });
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(HANDBOOK, "index.md"))) {
    console.error(`the handbook is not at ${HANDBOOK}; nothing to measure`);
    process.exit(2);
  }
  const model = arg("model", "text-embedding-3-small");
  const rounds = numberArg(process.argv, "rounds", 3);
  console.log(
    `load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-emb-"));
  const fake = await startFakeOpenAi();
  const db = await openPglite("memory://");
  await migrate(db);
  const memory = await openMemory({ db, uri: path.join(tmp, "lancedb"), logger: silentLogger });
  const wired = wireEmbeddings(db, memory, {
    OPENAI_API_KEY: fake.apiKey,
    OPENAI_BASE_URL: fake.url,
    OPENAI_EMBEDDING_MODEL: model,
  });
  try {
    const sync = await cpuMs(() => memory.syncFolder(HANDBOOK, { tenantId: TENANT }));
    const chunks = await memory.store.count();
    console.log(
      `sync: ${chunks} chunks in ${(sync.wall / 1000).toFixed(1)} s (no embedding requests: ${fake.calls.length})`,
    );

    let result: Awaited<ReturnType<typeof wired.round>> | undefined;
    const embed = await cpuMs(async () => {
      result = await wired.round(TENANT);
    });
    const state = await wired.embeddings.spaces.get(TENANT);
    const vectors = await memory.store.vectors.count(state.active!.table, TENANT);
    const requests = fake.calls.filter((c) => c.status === 200).length;
    console.log(
      `first round: ${result?.embedded} chunks embedded (${vectors}/${chunks} in the space, ${state.active?.dims} dims) in ` +
        `${(embed.wall / 1000).toFixed(1)} s wall, ${(embed.cpu / 1000).toFixed(1)} s CPU of this process ` +
        `(the fake runs in it too); ${requests} requests, ${fake.embeddingTokens} tokens`,
    );
    const idle = await cpuMs(() => wired.round(TENANT));
    console.log(`round with nothing to do: ${idle.wall.toFixed(0)} ms wall, ${idle.cpu.toFixed(0)} ms CPU`);

    const questions = fs
      .readFileSync(QA_FILE, "utf8")
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Question);
    const opts = { tenantId: TENANT, principals: ["anyone"] };
    const source = memory.queryVectors;
    const rows: (string | number)[][] = [
      ["mode", "n", "hit@5", "p50 ms", "p95 ms", "CPU ms/search", "mode seen"],
    ];
    for (const mode of ["fts", "hybrid"] as const) {
      memory.queryVectors = mode === "hybrid" ? source : undefined;
      let hits = 0;
      const walls: number[] = [];
      let cpu = 0;
      const modes = new Set<string>();
      for (let r = 0; r < rounds; r++) {
        for (const q of questions) {
          let found: string[] = [];
          const t = await cpuMs(async () => {
            const res = await memory.search(q.question, opts);
            modes.add(res.mode);
            found = res.hits.slice(0, 5).map((h) => h.doc.uri);
          });
          walls.push(t.wall);
          cpu += t.cpu;
          if (r === 0 && q.expected_paths.some((p) => found.includes(p))) hits++;
        }
      }
      const s = summarize(walls);
      rows.push([
        mode,
        questions.length,
        round(hits / questions.length, 3),
        round(s.p50),
        round(s.p95),
        round(cpu / walls.length),
        [...modes].join(","),
      ]);
    }
    console.log(formatTable(rows));
    console.log(
      `load average at end: ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(" ")}`,
    );
  } finally {
    await memory.close();
    await db.close();
    await fake.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
