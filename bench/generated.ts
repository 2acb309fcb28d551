/**
 * Extractive vs generated answers on a question set (bench/README.md, "Generated answers"):
 * indexes the handbook once, runs the set with no key (extractive), then with a workspace OpenAI
 * key pointed at the loopback fake model of test/integration/fakes (generated). The fake "model"
 * copies the best-matching source sentence and cites it, so the generated figures measure the
 * plumbing (passages sent, citations checked, fallbacks), not a real model's writing.
 *
 *   ATOM_DATA_DIR=/tmp/atom-bench-gen node --import tsx bench/generated.ts \
 *     ../shared/corpus/eval/handbook-qa.jsonl --docs ../shared/corpus/handbook
 */
import { parseArgs } from "node:util";
import { readQuestions, runEval } from "../src/cli/eval.ts";
import { ingestFolder } from "../src/cli/ingest.ts";
import { loadConfig } from "../src/config.ts";
import { createAtom } from "../src/main.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { startFakeOpenAi } from "../test/integration/fakes/openai.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { docs: { type: "string" } } });
if (!values.docs || positionals.length === 0)
  throw new Error("usage: bench/generated.ts <qa.jsonl>... --docs <dir>");
const fake = await startFakeOpenAi();
const config = loadConfig({
  ...process.env,
  LOG_LEVEL: "silent",
  OPENAI_API_KEY: "",
  OPENAI_BASE_URL: fake.url,
});
const atom = await createAtom(config, { logger: silentLogger, adapters: false });
try {
  const io = { stdout: process.stdout, stderr: process.stderr };
  const summary = await ingestFolder(atom.memory, values.docs, io, true);
  const questions = positionals.flatMap((f) => readQuestions(f));
  const opts = { sources: [summary.source] };
  const row = (name: string, s: Awaited<ReturnType<typeof runEval>>["scores"]) =>
    `| ${name} | ${s.n} | ${s.hit_at_1.toFixed(3)} | ${s.hit_at_5.toFixed(3)} | ${s.mrr.toFixed(3)} | ${s.fact_in_answer.toFixed(3)} | ${s.no_answer_accuracy.toFixed(3)} |`;
  const extractive = await runEval(atom.bot, questions, opts);
  await atom.ai.vault.set({
    tenantId: "default",
    provider: "openai",
    apiKey: fake.apiKey,
    setBy: "console:bench",
  });
  const t0 = performance.now();
  const generated = await runEval(atom.bot, questions, opts);
  const ms = (performance.now() - t0) / questions.length;
  const fellBack = generated.cases.filter((c) => c.answer.includes("From your documents:")).length;
  console.log("| answers | n | hit@1 | hit@5 | MRR | fact in answer | no-answer accuracy |");
  console.log("|---|---|---|---|---|---|---|");
  console.log(row("extractive (no key)", extractive.scores));
  console.log(row("generated (fake model)", generated.scores));
  console.log(
    `\nmodel calls: ${fake.chats.length}; generated answers that fell back to extractive: ${fellBack}; ${ms.toFixed(0)} ms per question`,
  );
} finally {
  await atom.close();
  await fake.close();
}
