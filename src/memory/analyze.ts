import stem from "wink-porter2-stemmer";

/**
 * English stop words plus the words people use to phrase a question to a bot ("how do I…",
 * "can you tell me…"). They carry no topic, so they are left out of the search terms.
 */
const STOP_WORDS = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being below " +
    "between both but by can could did do does doing during each few for from further had has have " +
    "having he her here hers herself him himself his how i if in into is it its itself just me more most " +
    "my myself no nor not now of on once only or other our ours ourselves own same she " +
    "should so some such than that the their theirs them themselves then there these they this those " +
    "through to too until very was we were what when where which while who whom why will with " +
    "would you your yours yourself yourselves im ive id dont doesnt didnt cant isnt arent wont whats " +
    "hows wheres whos thats theres lets get got gets getting anyone anybody someone somebody something " +
    "anything tell know need want wanted like please thanks thank hi hello hey also still really " +
    "actually maybe much many us may might must shall ok okay yes yeah one way use using used"
  ).split(/\s+/),
);

const NON_ASCII = /[^\x00-\x7f]/;

/** Lower-cases, folds accents and splits text into word tokens (letters and digits). */
export function tokenize(text: string): string[] {
  // ASCII text (most passages): NFKD and the Unicode classes change nothing, so the cheaper
  // ASCII pattern gives the same tokens.
  if (!NON_ASCII.test(text))
    return (
      text
        .toLowerCase()
        .replace(/'/g, "")
        .match(/[a-z0-9]+/g) ?? []
    );
  return (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/['’]/g, "")
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** Whether a token is a stop word. */
export function isStopWord(token: string): boolean {
  return STOP_WORDS.has(token);
}

const stemCache = new Map<string, string>();
const STEM_CACHE_MAX = 200_000;

/**
 * Porter2 stem of a lower-case token (numbers and non-Latin words are returned as they are).
 * Results are cached: ranking stems every candidate passage on each search.
 */
export function stemToken(token: string): string {
  let s = stemCache.get(token);
  if (s === undefined) {
    s = /^[a-z]+$/.test(token) ? stem(token) : token;
    if (stemCache.size >= STEM_CACHE_MAX) stemCache.clear();
    stemCache.set(token, s);
  }
  return s;
}

/** The topical terms of a query: tokens without stop words, each with its stem. */
export interface QueryTerm {
  token: string;
  stem: string;
}

/** Splits a query into topical terms (deduplicated by stem, in order). */
export function queryTerms(query: string): QueryTerm[] {
  const seen = new Set<string>();
  const out: QueryTerm[] = [];
  for (const token of tokenize(query)) {
    if (isStopWord(token) || token.length < 2) continue;
    const s = stemToken(token);
    if (seen.has(s)) continue;
    seen.add(s);
    out.push({ token, stem: s });
  }
  return out;
}

/** The set of stems in a text. */
export function stemSet(text: string): Set<string> {
  const out = new Set<string>();
  for (const t of tokenize(text)) if (!isStopWord(t)) out.add(stemToken(t));
  return out;
}

/**
 * The stems of `wanted` that occur in a text (as non-stop words): what {@link stemSet} would
 * share with `wanted`, without building the text's whole stem set. Ranking only asks whether a
 * passage holds the query's stems.
 */
export function stemsAmong(text: string, wanted: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  // Porter2 only rewrites a word's ending (and keeps at least one letter), so a stem starts with
  // the word's first character: a token whose first character starts no wanted stem is skipped
  // without stemming it.
  const firsts = new Set<string>();
  for (const s of wanted) firsts.add(s[0]!);
  for (const t of tokenize(text)) {
    if (!firsts.has(t[0]!)) continue;
    const s = stemToken(t);
    if (wanted.has(s) && !isStopWord(t)) out.add(s);
  }
  return out;
}
