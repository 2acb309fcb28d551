/**
 * What the fake chat models (OpenAI Chat Completions, Anthropic Messages) answer, shared by both.
 * A scripted reply ({@link FakeChatReply}) or, by default, a deterministic "model" that reads the
 * numbered `<source n="…">` blocks Atom sends and answers with the source sentence sharing the most
 * words with the question (an amount when it asks "how much"), cited `[n]` — or `NOT_FOUND` when no sentence shares a content word.
 * This measures plumbing, not language understanding.
 */

/** One request a fake chat model received. */
export interface FakeChatCall {
  provider: "openai" | "anthropic";
  path: string;
  /** `Authorization` (OpenAI) or `x-api-key` (Anthropic) as sent. */
  credential?: string;
  model?: string;
  stream: boolean;
  system: string;
  /** Every message's text, in order. */
  messages: { role: string; content: string }[];
  status: number;
}

/** A scripted answer: text (streamed in pieces), or a failure, or a delay before answering. */
export interface FakeChatReply {
  text?: string;
  /** Answer with this HTTP status and the provider's error body. */
  status?: number;
  /** `retry-after` header (seconds) with a 429. */
  retryAfter?: string;
  /** Wait this long before answering (a timeout test). */
  delayMs?: number;
  /** When streaming, wait this long between two pieces of text (a model writing slowly). */
  pieceDelayMs?: number;
}

/** Decides a reply from the request (scripted replies are tried first). */
export type FakeResponder = (call: FakeChatCall) => FakeChatReply;

const STOP = new Set(
  "a an and are as at be by for from how i in is it of on or that the this to was what when where which who why with you your do does can much many we our".split(
    " ",
  ),
);
const words = (s: string) =>
  (s.toLowerCase().match(/[a-z0-9$,.]+/g) ?? [])
    .map((w) => w.replace(/[.,]+$/, ""))
    .filter((w) => w && !STOP.has(w));

/** The default responder (see the module comment). */
export function extractiveModel(call: FakeChatCall): FakeChatReply {
  const last = call.messages.at(-1)?.content ?? "";
  const question = /Question:\s*([\s\S]*)$/.exec(last)?.[1]?.trim() ?? last;
  const q = new Set(words(question));
  let best: { n: string; sentence: string; score: number } | undefined;
  const scored: { n: string; sentence: string; score: number }[] = [];
  for (const m of last.matchAll(/<source n="(\d+)"[^>]*>([\s\S]*?)<\/source>/g)) {
    const n = m[1]!;
    let heading = "";
    for (const sentence of m[2]!.split(/(?<=[.!?])\s+|\n+/)) {
      const h = /^#+\s+(.*)$/.exec(sentence.trim());
      if (h) {
        heading = h[1]!;
        continue;
      }
      const s = sentence.trim();
      if (s.length < 12) continue;
      // Words of the sentence count fully, words only in its heading half.
      const own = [...new Set(words(s))];
      const under = words(heading).filter((w) => q.has(w) && !own.includes(w)).length / 2;
      const score =
        own.filter((w) => q.has(w)).length +
        under +
        (/\$\d/.test(s) && /how much|budget|cost/i.test(question) ? 3 : 0);
      scored.push({ n, sentence: s, score });
      if (!best || score > best.score) best = { n, sentence: s, score };
    }
  }
  if (!best || best.score < 1) return { text: "NOT_FOUND" };
  // Like a careful model, cite every source that states the same amount.
  const amount = /\$[\d,.]+\d/.exec(best.sentence)?.[0];
  const cited = new Set([best.n]);
  if (amount) {
    for (const m of last.matchAll(/<source n="(\d+)"[^>]*>([\s\S]*?)<\/source>/g)) {
      if (m[2]!.includes(amount)) cited.add(m[1]!);
    }
  }
  const refs = [...cited]
    .sort((a, b) => Number(a) - Number(b))
    .map((n) => `[${n}]`)
    .join("");
  const lead = `${best.sentence.replace(/\s+/g, " ")} ${refs}`;
  // A second sentence from another source when one is nearly as relevant (models often add one).
  const second = scored
    .filter((x) => !cited.has(x.n) && x.score >= Math.max(2, best!.score - 1))
    .sort((a, b) => b.score - a.score)[0];
  return { text: second ? `${lead} ${second.sentence.replace(/\s+/g, " ")} [${second.n}]` : lead };
}

/** Splits text into stream pieces of a few characters (as models stream tokens). */
export function pieces(text: string, size = 12): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [""];
}
