/**
 * The `summarize` step. {@link Summarizer} is the seam: with no AI key Atom summarises
 * extractively (the sentences that share the most words with the whole text, in their original
 * order; questions grouped by wording and counted); a model-backed summarizer can be passed to
 * `createWorkflows` when a workspace key exists, and falls back to this one on failure.
 */

/** One thing to summarise: a document passage or a question. */
export interface SummaryItem {
  title: string;
  text?: string;
}

/** Produces a short plain-text summary. */
export interface Summarizer {
  /** `extractive` or the model's name (recorded in the run log). */
  readonly kind: string;
  /**
   * @param kind `documents` (passages) or `questions` (questions people asked).
   * @throws on provider errors (the engine falls back to the extractive summary).
   */
  summarize(
    items: SummaryItem[],
    opts: { kind: "documents" | "questions"; maxSentences: number },
  ): Promise<string>;
}

const STOP = new Set(
  "a an and are as at be by can do does for from has have how i if in is it its me my of on or our so that the their there this to was we what when where which who why will with you your".split(
    " ",
  ),
);

const words = (s: string): string[] =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 2 && !STOP.has(w));

/** Sentences of a text (split after . ! ? followed by a space and a capital or digit, and at line ends). */
function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+(?=[\p{Lu}\p{N}])|\n+/u)
    .map((s) => s.replace(/^[#>*\-\s]+/, "").trim())
    .filter((s) => s.length >= 20 && s.length <= 400);
}

/** Groups questions that read the same (case, punctuation and stop words ignored) and counts them. */
function groupQuestions(items: SummaryItem[], max: number): string {
  const groups = new Map<string, { text: string; count: number }>();
  for (const it of items) {
    const key = words(it.title).sort().join(" ") || it.title.toLowerCase();
    const g = groups.get(key);
    if (g) g.count += 1;
    else groups.set(key, { text: it.title.trim().replace(/\s+/g, " ").slice(0, 200), count: 1 });
  }
  const top = [...groups.values()].sort((a, b) => b.count - a.count).slice(0, max);
  return top.map((g) => `• ${g.text}${g.count > 1 ? ` (asked ${g.count} times)` : ""}`).join("\n");
}

/** The extractive summarizer (no model, no key). */
export const extractiveSummarizer: Summarizer = {
  kind: "extractive",
  async summarize(items, opts) {
    if (items.length === 0) return "";
    if (opts.kind === "questions") return groupQuestions(items, opts.maxSentences);
    const all = items.flatMap((it, i) => sentences(it.text ?? it.title).map((s, j) => ({ s, i, j })));
    if (all.length === 0)
      return items
        .slice(0, opts.maxSentences)
        .map((it) => `• ${it.title}`)
        .join("\n");
    const freq = new Map<string, number>();
    for (const x of all) for (const w of new Set(words(x.s))) freq.set(w, (freq.get(w) ?? 0) + 1);
    const scored = all.map((x) => {
      const ws = words(x.s);
      const score = ws.reduce((sum, w) => sum + (freq.get(w) ?? 0), 0) / Math.sqrt(ws.length + 1);
      return { ...x, score };
    });
    // At most two sentences from one document, so a long one does not crowd out the rest.
    const perDoc = new Map<number, number>();
    const chosen = scored
      .sort((a, b) => b.score - a.score)
      .filter((x) => {
        const n = perDoc.get(x.i) ?? 0;
        if (n >= 2) return false;
        perDoc.set(x.i, n + 1);
        return true;
      })
      .slice(0, opts.maxSentences)
      .sort((a, b) => a.i - b.i || a.j - b.j);
    return chosen.map((x) => `• ${x.s}`).join("\n");
  },
};
