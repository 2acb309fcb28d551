import type { CommandSpec, Intent } from "./types.ts";

const HELP = /^(?:help|\?|commands|what can you do\??|how do i use (?:you|atom)\??)$/i;
const STATUS = /^(?:status|what(?:['’]s| is) (?:indexed|connected)\??|sources)$/i;
const REMEMBER = /^(?:please\s+)?remember(?:\s+that)?[\s,:]+(.+)$/is;
const SEARCH =
  /^(?:please\s+)?(?:find|search(?:\s+for)?|look\s+up|list|show(?:\s+me)?)\s+(?:(?:me|all|any|the)\s+)?(?:docs?|documents?|files?|pages?|notes?)\b\s*(?:about|on|for|regarding|mentioning|that mention|with)?\s*(.*)$/is;

/**
 * Classifies a message by rules: `help`, then the registered `commands` in order, then `status`,
 * `remember that …`, `find docs about …` (search), and everything else is a question (`ask`).
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
  const search = SEARCH.exec(t);
  if (search?.[1]?.trim()) return { kind: "search", query: search[1].trim().replace(/[?.!]+$/, "") };
  return { kind: "ask", query: t };
}
