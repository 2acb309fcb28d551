/**
 * Text clean-up before the workflow grammar runs: lower case, plain quotes and spaces, number
 * words as digits, and typo correction of the grammar's own keywords ("evrey wekday at 9",
 * "tommorow", "mondey") by edit distance (fastest-levenshtein). Words that are common English
 * on their own ("very", "past", "ours") are never "corrected".
 */
import { distance } from "fastest-levenshtein";

/** Keywords the grammar understands; a near miss is corrected to one of these. */
const KEYWORDS = [
  "every",
  "other",
  "daily",
  "weekly",
  "monthly",
  "hourly",
  "weekday",
  "weekdays",
  "workday",
  "workdays",
  "weekend",
  "weekends",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
  "sunday",
  "mondays",
  "tuesdays",
  "wednesdays",
  "thursdays",
  "fridays",
  "saturdays",
  "sundays",
  "minute",
  "minutes",
  "hours",
  "month",
  "tomorrow",
  "tonight",
  "morning",
  "evening",
  "afternoon",
  "midnight",
  "remind",
  "reminder",
  "digest",
  "documents",
  "summary",
  "summarize",
  "summarise",
  "questions",
  "first",
  "second",
  "third",
  "fourth",
  "template",
  "business",
  "working",
  "fortnightly",
  "biweekly",
];

/** Words never changed, although they are one edit away from a keyword. */
const KEEP = new Set([
  "very",
  "ever",
  "even",
  "over",
  "ours",
  "yours",
  "past",
  "most",
  "mother",
  "others",
  "either",
  "months",
  "minuet",
  "hour",
  "remains",
  "remain",
  "document",
  "digests",
  "firsts",
  "seconds",
  "summery",
  "working",
  "worked",
  "minded",
  "thirds",
  "fourths",
  "reminders",
  "questioned",
  "question",
  "temple",
  "mouth",
  "mount",
  "weeks",
  "week",
  "days",
  "day",
  "mins",
  "hrs",
  "tonights",
  "mornings",
  "evenings",
  "afternoons",
]);

const NUMBER_WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  fifteen: 15,
  twenty: 20,
  thirty: 30,
  forty: 40,
  "forty-five": 45,
  fortyfive: 45,
  sixty: 60,
  ninety: 90,
};

/** Result of {@link normalize}: the cleaned text and the corrections made (shown in the plan). */
export interface Normalized {
  text: string;
  corrections: { from: string; to: string }[];
}

/** Whether `a` becomes `b` by swapping two neighbouring letters ("evrey" → "every"). */
function isTransposition(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
  return (
    diff.length === 2 &&
    diff[1] === diff[0]! + 1 &&
    a[diff[0]!] === b[diff[1]!] &&
    a[diff[1]!] === b[diff[0]!]
  );
}

/**
 * Closest keyword within the allowed distance (Levenshtein, with a swap of two neighbouring
 * letters counting as one edit): 1 for short words, 2 from 7 letters. Ties go to the keyword
 * that ends like the word ("minuts" → "minutes").
 */
function correct(word: string): string | undefined {
  if (word.length < 4 || KEEP.has(word) || KEYWORDS.includes(word)) return undefined;
  const max = word.length >= 7 ? 2 : 1;
  let best: string | undefined;
  let bestD = max + 1;
  for (const k of KEYWORDS) {
    if (Math.abs(k.length - word.length) > max) continue;
    const d = isTransposition(word, k) ? 1 : distance(word, k);
    const better =
      d < bestD ||
      (d === bestD && best !== undefined && k.at(-1) === word.at(-1) && best.at(-1) !== word.at(-1));
    if (better) {
      best = k;
      bestD = d;
    }
  }
  return bestD <= max ? best : undefined;
}

/**
 * Normalises a request: lower case, typographic quotes and dashes made plain, `a.m.`/`p.m.` as
 * `am`/`pm`, number words as digits, keyword typos corrected. Slack/Teams markup (`<#C1|x>`,
 * `<@U1>`) is kept as is.
 */
export function normalize(input: string): Normalized {
  let s = input
    .replace(/[\u2018\u2019\u201B]/g, "'")
    .replace(/[\u201C\u201D]/g, '"')
    .replace(/[\u2013\u2014]/g, "-")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
  s = s.replace(/\b([ap])\.\s?m\.?(?=\s|$|[,;!?])/g, "$1m");
  s = s.replace(/[.!]+$/, "").trim();
  const corrections: { from: string; to: string }[] = [];
  s = s.replace(/[a-z][a-z-]*/g, (w) => {
    if (w in NUMBER_WORDS) return String(NUMBER_WORDS[w]);
    const fixed = correct(w);
    if (fixed && fixed !== w) {
      corrections.push({ from: w, to: fixed });
      return fixed;
    }
    return w;
  });
  return { text: s, corrections };
}
