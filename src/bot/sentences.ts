import { stemSet } from "../memory/analyze.ts";
import { type AnalyzedQuery, conceptEvidence } from "../memory/search.ts";
import { uriWords } from "../memory/store.ts";
import type { SearchHit } from "../memory/types.ts";

/**
 * What kind of fact a question asks for, read from its wording: "how much" → an amount, "how
 * long" → a duration, "which channel" → a Slack channel, and so on.
 */
export type AnswerKind =
  | "amount"
  | "number"
  | "duration"
  | "frequency"
  | "date"
  | "person"
  | "channel"
  | "email"
  | "percent"
  | "contact";

const WHEN =
  /(?:^|[,;:?!.(]\s*|\b(?:and|but|so|or)\s+)when\b(?!\s+(?:i|we|you|my|our|someone|somebody|people|a|an|the)\b)|\bwhen (?:is|are|was|were|do|does|did|will|would|can|could|should|must|has|have)\b|\bwhat (?:date|day|time)\b/i;

/** Question words that name the kind of fact asked for ("how much", "how long", "who"…). */
const ASKED_KINDS: [AnswerKind, RegExp][] = [
  ["amount", /\bhow much\b(?! time)|\b(?:what|which)(?: [\w-]+){0,2} (?:amount|sum|price)\b/i],
  [
    "number",
    /\bhow many\b(?! (?:minutes|hours|days|weeks|months|years)\b)|\bnumber of\b|\b(?:what|which)(?: [\w-]+){0,2} (?:version|size)\b/i,
  ],
  [
    "duration",
    /\bhow (?:long|soon|early|fast|quickly)\b|\bhow much time\b|\bhow many (?:minutes|hours|days|weeks|months|years)\b|\bafter how\b/i,
  ],
  ["frequency", /\bhow often\b|\bhow frequently\b/i],
  // "when" as a question word ("when does…", "…, when?"), not a conjunction ("…when I leave…");
  // a date can also be given as a time from now ("2-4 weeks after enrollment").
  ["date", WHEN],
  ["duration", WHEN],
  ["frequency", WHEN],
  ["person", /\bwho(?:m|se)?\b|\bwhich (?:team|person|people)\b/i],
  [
    "channel",
    /\b(?:which|what)(?: [\w-]+){0,2} channels?\b|\bwhere (?:do|can|should|would) (?:i|we) (?:ask|post|go)\b/i,
  ],
  [
    "email",
    /\b(?:which|what)(?: [\w-]+){0,2} (?:e-?mail|address|alias)\b|\bwhere (?:do|can|should|would) (?:i|we) (?:send|forward|email)\b/i,
  ],
  ["percent", /\bpercent(?:age)?\b|\bhow much of\b|\bwhat share\b|\bprobabilit\w*\b/i],
  // "How do I get access / join / request…": answered by where to ask (a channel, an address, a
  // handle to tag).
  [
    "contact",
    /\bhow (?:do|can|should|would) (?:i|we|you) (?:get|gain|request|join|reach|contact|ask|apply|sign up|be added|report)\b|\bwho (?:do|can|should) (?:i|we) (?:ask|contact|talk|reach)\b/i,
  ],
];

/** Words that hint at the kind of fact when no question word names it ("budget?", "deadline"). */
const HINTED_KINDS: [AnswerKind, RegExp][] = [
  [
    "amount",
    /\b(?:costs?|price|prices|budgets?|stipends?|allowances?|reimburs\w*|amounts?|limits?|max(?:imum)?|rates?|fees?|per diem|salary)\b|[$€£]/i,
  ],
  ["number", /\bminimum\b/i],
  ["duration", /\b(?:deadline|duration|period|retention|retained|kept|until)\b/i],
  ["date", /\b(?:deadline|schedule|date)\b/i],
  ["person", /\bcontact\b|\bapprov\w*\b|\bresponsible\b/i],
  ["channel", /\bchannels?\b|\bslack\b/i],
  ["email", /\be-?mail\b|\baddress\b|\balias\b/i],
  ["percent", /%|\bshare\b|\butili[sz]ation\b/i],
];

/**
 * The kinds of fact a question asks for: those its question words name ("how long" → a duration,
 * even in "how long … for the budget"), else those its words hint at ("budget?" → an amount);
 * empty for open questions ("what is…", "how do I…").
 */
export function questionKinds(question: string): Set<AnswerKind> {
  const asked = new Set<AnswerKind>();
  for (const [kind, re] of ASKED_KINDS) if (re.test(question)) asked.add(kind);
  if (asked.size > 0) return asked;
  const hinted = new Set<AnswerKind>();
  for (const [kind, re] of HINTED_KINDS) if (re.test(question)) hinted.add(kind);
  // A quantity in the question ("from 4 months ago", "a $600 chair") is measured against a
  // limit of the same kind in the documents ("more than 90 days old", "up to $500").
  for (const kind of STATED_QUANTITIES) if (SENTENCE_KINDS[kind].test(question)) hinted.add(kind);
  return hinted;
}

const NUMBER_WORD =
  "(?:\\d+(?:[.,]\\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|sixty|ninety|a|an)";

const SENTENCE_KINDS: Record<AnswerKind, RegExp> = {
  amount: /[$€£¥]\s?\d|\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|k)\b|\b\d+(?:[.,]\d+)?\s?%/i,
  number: /\d/,
  duration: new RegExp(
    `\\b${NUMBER_WORD}(?:\\s?(?:[-–]|to)\\s?\\d+)?[\\s-]?(?:\\(\\d+\\)\\s)?(?:business |calendar |working )?(?:minutes?|mins?|hours?|days?|weeks?|months?|years?|quarters?)\\b|\\b24/7\\b`,
    "i",
  ),
  frequency:
    /\b(?:daily|weekly|monthly|quarterly|annually|yearly|bi-?weekly|bi-?monthly|hourly)\b|\b(?:every|each|per|a|once a|twice a)\s+(?:other\s+)?(?:\w+\s+)?(?:day|week|month|quarter|year|sprint|cycle)\b|\b(?:once|twice|\d+ times)\b/i,
  date: /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\b\d{1,2}(?:st|nd|rd|th)\b|\b(?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?)\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b|\b(?:q[1-4]|fy\d{2,4})\b|\bevery (?:other )?(?:day|week|month|quarter|year)\b|\bwithin\b/i,
  person:
    /\b(?:manager|managers|head|lead|director|vp|ceo|cto|cfo|coo|founder|owner|admin|recruiter|partner|people (?:ops|team)|finance|legal|exec|team|committee|approver)\b|(?:^|\s)@[a-z][\w.-]+|\b[A-Z][a-z]+ [A-Z][a-z]+\b/,
  channel: /(?:^|[\s(`'"“])#[a-z0-9][a-z0-9_-]+/i,
  email: /\b[\w.+-]+@[\w-]+\.[a-z][\w.]*\b/i,
  percent: /\d\s?%|\bpercent\b/i,
  contact: /(?:^|[\s(`'"“])[#@][a-z0-9][a-z0-9_.-]+|\b[\w.+-]+@[\w-]+\.[a-z][\w.]*\b/i,
};

/** Kinds of quantity that, stated in a question, hint that the answer states one too. */
const STATED_QUANTITIES: AnswerKind[] = ["amount", "duration"];

/** Whether a sentence states a fact of the given kind (an amount, a duration, a channel…). */
export function statesKind(sentence: string, kind: AnswerKind): boolean {
  return SENTENCE_KINDS[kind].test(sentence);
}

/**
 * Splits a passage into sentences: one per line (list items, table rows), and lines at sentence
 * ends. Leading list markers are dropped; the words are kept exactly as in the document.
 */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const rawLine of text.split(/\n+/)) {
    const line = rawLine.replace(/^\s*(?:[-*•+]|\d{1,2}[.)])\s+/, "").trim();
    if (line === "") continue;
    for (const s of line.split(/(?<=[a-z0-9)"”'’*_][.!?])\s+(?=[A-Z0-9"“'([*_$#@])/u)) {
      const t = s.trim();
      if (t !== "") out.push(t);
    }
  }
  return out;
}

/** A sentence and the list item it is nested under. */
export interface SentenceInContext {
  text: string;
  /** The text of the list item this sentence's item is nested under ("" at top level). */
  parent: string;
}

/**
 * Splits a passage like {@link splitSentences} and keeps, for each sentence of a nested list
 * item, the item it is nested under: the subject of a short item is often its parent
 * ("Fringe benefit amount (per month):" above "Internet: $50"). Only the parent counts, not the
 * neighbouring sentences of a paragraph: measured on the tune half (bench/README.md), those made
 * every sentence of a paragraph score alike and lost the one that answers.
 */
export function splitSentencesInContext(text: string): SentenceInContext[] {
  const out: SentenceInContext[] = [];
  // Open list items by indentation: a nested item's parent is the nearest shallower one above.
  const open: { indent: number; text: string }[] = [];
  for (const rawLine of text.split(/\n+/)) {
    if (rawLine.trim() === "") continue;
    const item = /^(\s*)(?:[-*•+]|\d{1,2}[.)])\s+/.exec(rawLine);
    const indent = item ? item[1]!.replace(/\t/g, "    ").length : -1;
    while (open.length > 0 && (indent < 0 || open.at(-1)!.indent >= indent)) open.pop();
    const parent = open.at(-1)?.text ?? "";
    const sentences = splitSentences(rawLine);
    for (const t of sentences) out.push({ text: t, parent });
    if (item && sentences.length > 0) open.push({ indent, text: sentences.join(" ") });
  }
  return out;
}

/** One sentence of a found document, scored against the question. */
export interface ScoredSentence {
  /** Index of the document in the search hits. */
  hit: number;
  /** Chunk index of the passage holding the sentence. */
  chunkIndex: number;
  headings: string[];
  text: string;
  /** The final score (higher is better); comparable within one question. */
  score: number;
  /**
   * IDF-weighted share of the question's concepts found in the sentence itself, or (counted at
   * half) in the title, path and headings it sits under.
   */
  coverage: number;
  /** IDF-weighted share of the question's concepts found in the sentence itself. */
  ownCoverage: number;
  /** Whether the sentence states the kind of fact the question asks for. */
  kindMatch: boolean;
}

/** Weights of sentence scoring (see {@link scoreSentences}). */
export interface SentenceWeights {
  /** Share of a concept's weight earned when it is only in the title, path or headings. */
  context: number;
  /** Bonus for a sentence stating the kind of fact the question asks for. */
  kind: number;
  /** Weight of the document's search score (relative to the best document). */
  document: number;
  /** Passages read per document. */
  passagesPerDoc: number;
  /** Weight of the passage's search score (relative to the document's best passage). */
  passage: number;
  /** Share of a concept's weight earned when it is only in the list item the sentence is nested under. */
  parent: number;
}

export const DEFAULT_SENTENCE_WEIGHTS: SentenceWeights = {
  context: 0.5,
  kind: 0.6,
  document: 0.6,
  passagesPerDoc: 4,
  passage: 0.3,
  parent: 0.5,
};

/**
 * Scores every sentence of the best passages of the found documents against the question:
 * the IDF-weighted share of its concepts the sentence holds (concepts found only in the
 * document's title, path or the headings above count at `weights.context`, those only in the
 * list item it is nested under at `weights.parent`), a bonus when the
 * sentence states the kind of fact asked for (an amount for "how much", a channel for "which
 * channel"…), and the document's search score. Returns all sentences, best first.
 */
export function scoreSentences(
  question: string,
  hits: SearchHit[],
  query: AnalyzedQuery,
  weights: SentenceWeights = DEFAULT_SENTENCE_WEIGHTS,
): ScoredSentence[] {
  const kinds = questionKinds(question);
  const total = query.concepts.reduce((s, c) => s + c.weight, 0) || 1;
  const topScore = hits[0]?.score || 1;
  const out: ScoredSentence[] = [];
  const seen = new Set<string>();
  hits.forEach((hit, h) => {
    const docContext = `${hit.doc.title} ${uriWords(hit.doc.uri)}`;
    // Passages search ranked high earn a share of their score; the rest of the page (read whole
    // for the best documents) is there for a sentence search did not return.
    const ranked = new Map(
      hit.passages.slice(0, weights.passagesPerDoc).map((p) => [p.chunkIndex, p.score] as const),
    );
    const bestPassage = Math.max(...ranked.values(), 1e-9);
    for (const p of hit.document ?? hit.passages.slice(0, weights.passagesPerDoc)) {
      const passageScore = weights.passage * ((ranked.get(p.chunkIndex) ?? 0) / bestPassage);
      const context = stemSet(`${docContext} ${p.headings.join(" ")}`);
      for (const { text, parent } of splitSentencesInContext(p.text)) {
        const key = `${h}\u0000${text}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const stems = stemSet(text);
        const parentStems = weights.parent > 0 && parent !== "" ? stemSet(parent) : undefined;
        let own = 0;
        let withContext = 0;
        for (const c of query.concepts) {
          const inSentence = conceptEvidence(c, [stems]);
          own += inSentence;
          withContext += Math.max(
            inSentence,
            weights.context * conceptEvidence(c, [context]),
            parentStems ? weights.parent * conceptEvidence(c, [parentStems]) : 0,
          );
        }
        const kindMatch = [...kinds].some((k) => statesKind(text, k));
        const length = text.length;
        const shape = length < 20 && !kindMatch ? -0.2 : length > 400 ? -0.1 : 0;
        const score =
          withContext / total +
          (kindMatch ? weights.kind : 0) +
          weights.document * (hit.score / topScore) +
          passageScore +
          shape;
        out.push({
          hit: h,
          chunkIndex: p.chunkIndex,
          headings: p.headings,
          text,
          score,
          coverage: withContext / total,
          ownCoverage: own / total,
          kindMatch,
        });
      }
    }
  });
  return out.sort((a, b) => b.score - a.score);
}

/** Words of a text for near-duplicate detection: lower-case letters and digits only. */
function shingles(text: string): Set<string> {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  for (let i = 0; i < words.length; i++) out.add(words.slice(i, i + 2).join(" "));
  return out;
}

/**
 * Whether two passages say the same thing: one holds the other (after folding case and
 * punctuation), or they share at least `threshold` of their word pairs (Jaccard).
 */
export function nearDuplicate(a: string, b: string, threshold = 0.7): boolean {
  const fa = a
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
  const fb = b
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
  if (fa === "" || fb === "") return false;
  if (fa.includes(fb) || fb.includes(fa)) return true;
  const sa = shingles(fa);
  const sb = shingles(fb);
  let common = 0;
  for (const s of sa) if (sb.has(s)) common++;
  return common / (sa.size + sb.size - common || 1) >= threshold;
}
