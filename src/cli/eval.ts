import fs from "node:fs";
import { z } from "zod";
import type { Bot, HandleOptions } from "../bot/types.ts";
import { askOnce } from "./ask.ts";
import { UsageError } from "./runtime.ts";

const questionSchema = z.object({
  id: z.string(),
  question: z.string().min(1),
  expected_paths: z.array(z.string()),
  expected_fact: z.string().optional(),
});
export type EvalQuestion = z.infer<typeof questionSchema>;

/** Scores of one evaluation run (the `--json` shape of `atom eval`). */
export interface EvalScores {
  n: number;
  hit_at_1: number;
  hit_at_5: number;
  mrr: number;
  no_answer_accuracy: number;
  /**
   * Share of answerable questions with an `expected_fact` whose answer text states that fact
   * ({@link statesFact}); 0 answers count as misses. 1 when no question has a fact.
   */
  fact_in_answer: number;
}

/** One question's outcome. */
export interface EvalCase {
  id: string;
  question: string;
  expected: string[];
  found: boolean;
  cited: string[];
  /** 1-based rank of the first expected document among the cited ones, or null. */
  rank: number | null;
  /** The expected fact, when the question has one (answerable questions only). */
  fact?: string;
  /** Whether the answer text states `fact` (false when not answered). */
  factInAnswer: boolean;
  /** The answer text (for --verbose). */
  answer: string;
}

/**
 * Text folded for fact matching: lower case, no whitespace, and no thousands separators
 * ("$2,000" and "$2 000" → "$2000").
 */
export function foldForFact(text: string): string {
  return text
    .toLowerCase()
    .replace(/(?<=\d)[,\u00a0\u202f ](?=\d{3}(?!\d))/g, "")
    .replace(/\s+/g, "");
}

/** Whether `answer` states `fact`, compared without case, spaces or thousands separators. */
export function statesFact(answer: string, fact: string): boolean {
  const f = foldForFact(fact);
  return f !== "" && foldForFact(answer).includes(f);
}

/**
 * Reads a question file (one JSON object per line: id, question, expected_paths, expected_fact).
 * @throws UsageError naming the line of a malformed entry.
 */
export function readQuestions(file: string): EvalQuestion[] {
  if (!fs.existsSync(file)) throw new UsageError(`question file not found: ${file}`);
  const out: EvalQuestion[] = [];
  fs.readFileSync(file, "utf8")
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === "") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new UsageError(`${file}:${i + 1}: not valid JSON`);
      }
      const r = questionSchema.safeParse(parsed);
      if (!r.success)
        throw new UsageError(
          `${file}:${i + 1}: ${r.error.issues[0]?.path.join(".")} ${r.error.issues[0]?.message}`,
        );
      out.push(r.data);
    });
  if (out.length === 0) throw new UsageError(`${file}: no questions in the file`);
  return out;
}

/**
 * Runs every question through exactly what `atom ask` does and scores it:
 * an answerable question is a hit@k when the answer is given (`found`) and an expected file is
 * among its first k cited documents; MRR uses the rank of the first expected file among the
 * cited ones (0 when not found); no-answer accuracy is the share of unanswerable questions
 * answered with `found` false; fact in answer is the share of answerable questions with an
 * `expected_fact` whose answer text states it ({@link statesFact}).
 */
export async function runEval(
  bot: Bot,
  questions: EvalQuestion[],
  opts: HandleOptions = {},
): Promise<{ scores: EvalScores; cases: EvalCase[] }> {
  const cases: EvalCase[] = [];
  for (const q of questions) {
    const a = await askOnce(bot, q.question, opts);
    const cited = [...new Set(a.citations.map((c) => c.uri))];
    const idx = a.found ? cited.findIndex((u) => q.expected_paths.includes(u)) : -1;
    const fact =
      q.expected_paths.length > 0 && q.expected_fact && q.expected_fact !== "none"
        ? q.expected_fact
        : undefined;
    cases.push({
      id: q.id,
      question: q.question,
      expected: q.expected_paths,
      found: a.found,
      cited,
      rank: idx >= 0 ? idx + 1 : null,
      fact,
      factInAnswer: fact !== undefined && a.found && statesFact(a.answer, fact),
      answer: a.answer,
    });
  }
  const answerable = cases.filter((c) => c.expected.length > 0);
  const unanswerable = cases.filter((c) => c.expected.length === 0);
  const share = (xs: EvalCase[], f: (c: EvalCase) => boolean) =>
    xs.length === 0 ? 1 : xs.filter(f).length / xs.length;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    cases,
    scores: {
      n: cases.length,
      hit_at_1: round(share(answerable, (c) => c.rank !== null && c.rank <= 1)),
      hit_at_5: round(share(answerable, (c) => c.rank !== null && c.rank <= 5)),
      mrr: round(
        answerable.length === 0
          ? 0
          : answerable.reduce((s, c) => s + (c.rank ? 1 / c.rank : 0), 0) / answerable.length,
      ),
      no_answer_accuracy: round(share(unanswerable, (c) => !c.found)),
      fact_in_answer: round(
        share(
          answerable.filter((c) => c.fact !== undefined),
          (c) => c.factInAnswer,
        ),
      ),
    },
  };
}
