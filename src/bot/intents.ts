import { isStopWord, tokenize } from "../memory/analyze.ts";
import type { CommandSpec, Intent } from "./types.ts";

const HELP = /^(?:help|\?|commands|what can you do\??|how do i use (?:you|atom)\??)$/i;
const STATUS = /^(?:status|what(?:['’]s| is) (?:indexed|connected)\??|sources)$/i;
const REMEMBER = /^(?:please\s+)?remember(?:\s+that)?[\s,:]+(.+)$/is;
const SEARCH =
  /^(?:please\s+)?(?:find|search(?:\s+for)?|look\s+up|list|show(?:\s+me)?)\s+(?:(?:me|all|any|the)\s+)?(?:docs?|documents?|files?|pages?|notes?)\b\s*(?:about|on|for|regarding|mentioning|that mention|with)?\s*(.*)$/is;

/**
 * Words of greetings, thanks, reactions and chat tests ("hello from team 2", "cool!!", "testing",
 * "DM me"): a message made only of these and stop words is small talk, not a question.
 */
const SMALL_TALK_WORDS = new Set(
  (
    "hi hello hey heya hiya yo hola howdy greetings morning afternoon evening night gm good day all " +
    "everyone everybody folks team guys there world atom bot buddy friend thanks thank thx ty tyvm " +
    "cheers cool nice great awesome perfect amazing wow lol haha hahaha ok okay kk k fine sure " +
    "yes yeah yep no nope bye goodbye later cya test tests testing tested ping pong dm pm message " +
    "welcome sup whats up hows going"
  ).split(/\s+/),
);
/** Questions about Atom itself ("who are you?", "what can you do?", "are you a bot?"). */
const ABOUT_ATOM =
  /^(?:who|what) are (?:you|u)\b|^what(?:['’]s| is) (?:your name|atom)\b|^are (?:you|u) (?:a )?(?:bot|human|real)\b|^what (?:can|do) (?:you|u) do\b|^how are (?:you|u)\b/i;
/** A message opening like a question. */
const QUESTION_START =
  /^(?:how|what|where|when|why|which|who|whom|whose|is|are|do|does|did|can|could|should|would|will|may)\b/i;
/** Messages longer than this many words are never small talk. */
const SMALL_TALK_MAX_WORDS = 8;

/**
 * Whether a message is small talk: a greeting, thanks, a reaction, a test message, a question
 * about Atom itself, or any message without a single content word (only stop words,
 * greetings, numbers and emoji) — nothing to search the documents for.
 */
export function isSmallTalk(text: string): boolean {
  const t = text.replace(/\s+/g, " ").trim();
  if (ABOUT_ATOM.test(t)) return true;
  const tokens = tokenize(t);
  if (tokens.length > SMALL_TALK_MAX_WORDS) return false;
  const content = tokens.filter((w) => !isStopWord(w) && !/^\d+$/.test(w));
  if (content.length === 0) return true;
  // "how do we do testing?" asks about testing; "testing" alone is a chat test.
  return !QUESTION_START.test(t) && content.every((w) => SMALL_TALK_WORDS.has(w));
}

/**
 * Classifies a message by rules: `help`, then the registered `commands` in order, then `status`,
 * `remember that …`, small talk (greetings, thanks, tests, "who are you?", no content word at
 * all), `find docs about …` (search), and everything else is a question (`ask`).
 * Leading bot names and slash-command words are expected to be removed by the adapter;
 * surrounding whitespace and punctuation are ignored.
 */
export function classify(text: string, commands: readonly CommandSpec[] = []): Intent {
  const t = text.replace(/\s+/g, " ").trim();
  if (t === "" || HELP.test(t)) return { kind: "help", query: "" };
  for (const c of commands) {
    const hit = c.match(t);
    if (hit) return hit;
  }
  if (STATUS.test(t)) return { kind: "status", query: "" };
  const remember = REMEMBER.exec(t);
  // "remember that" alone has no note: the regex would otherwise store the word "that".
  const note = remember?.[1]?.trim();
  if (note && !/^that$/i.test(note)) return { kind: "remember", query: note };
  if (isSmallTalk(t)) return { kind: "smalltalk", query: t };
  const search = SEARCH.exec(t);
  if (search?.[1]?.trim()) return { kind: "search", query: search[1].trim().replace(/[?.!]+$/, "") };
  return { kind: "ask", query: t };
}
