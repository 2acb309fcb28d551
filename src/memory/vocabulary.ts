import { isStopWord, stemToken, tokenize } from "./analyze.ts";

/**
 * Term statistics of one tenant's memory: how many chunks contain each stem (document frequency)
 * and each surface word, plus the chunk count. Used to weight query terms by rarity (IDF) and to
 * correct misspelt query words to words that exist in memory.
 */
export class Vocabulary {
  private readonly stemDf = new Map<string, number>();
  private readonly wordDf = new Map<string, number>();
  /**
   * Words bucketed by length, for spelling candidates, each with its {@link letterMask} (a cheap
   * lower bound of the edit distance that skips most candidates).
   */
  private readonly byLength = new Map<number, Map<string, number>>();
  private chunkCount = 0;

  /**
   * @param scale chunks each counted chunk stands for: 1 when every chunk is counted; `k` when the
   * statistics come from a sample of one chunk in `k` (frequencies are multiplied by it).
   */
  constructor(readonly scale = 1) {}

  /** Number of chunks counted (times `scale` for a sample: the estimated size of memory). */
  get size(): number {
    return this.chunkCount * this.scale;
  }

  /** Counts one chunk's text (call with sign -1 to remove it). */
  update(text: string, sign: 1 | -1 = 1): void {
    const stems = new Set<string>();
    const words = new Set<string>();
    for (const t of tokenize(text)) {
      if (t.length > 40 || isStopWord(t)) continue;
      words.add(t);
      stems.add(stemToken(t));
    }
    this.chunkCount += sign;
    for (const s of stems) bump(this.stemDf, s, sign);
    for (const w of words) {
      const n = bump(this.wordDf, w, sign);
      if (n === 1 && sign === 1) {
        const bucket = this.byLength.get(w.length);
        if (bucket) bucket.set(w, letterMask(w));
        else this.byLength.set(w.length, new Map([[w, letterMask(w)]]));
      } else if (n === 0) {
        this.byLength.get(w.length)?.delete(w);
      }
    }
  }

  /** Chunks containing the stem. */
  df(stem: string): number {
    return (this.stemDf.get(stem) ?? 0) * this.scale;
  }

  /**
   * BM25-style inverse document frequency of a stem: ln(1 + (N - df + 0.5) / (df + 0.5)).
   * A stem absent from memory gets the weight of a stem seen once.
   */
  idf(stem: string): number {
    const n = Math.max(this.chunkCount * this.scale, 1);
    const df = Math.max(this.df(stem), 1);
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /**
   * The most frequent word of memory within a small edit distance of `word` (1 for words of 4–9
   * letters, 2 for longer ones; transpositions count as one edit) that is at least `minDf` chunks
   * frequent, or undefined. Words shorter than 4 letters and numbers are never corrected.
   */
  correct(word: string, minDf = 1): string | undefined {
    if (word.length < 4 || !/^[a-z]+$/.test(word)) return undefined;
    const maxEdits = word.length >= 10 ? 2 : 1;
    let best: string | undefined;
    let bestDist = Number.POSITIVE_INFINITY;
    let bestDf = 0;
    const mask = letterMask(word);
    // One edit changes at most two bits of the letter mask (a substitution drops one letter and
    // adds another), so a candidate differing in more bits cannot be within maxEdits.
    const maxBits = 2 * maxEdits;
    for (let len = word.length - maxEdits; len <= word.length + maxEdits; len++) {
      const bucket = this.byLength.get(len);
      if (!bucket) continue;
      for (const [candidate, m] of bucket) {
        if (popcount(mask ^ m) > maxBits) continue;
        const d = boundedDamerau(word, candidate, maxEdits);
        if (d > maxEdits) continue;
        const df = (this.wordDf.get(candidate) ?? 0) * this.scale;
        if (df < minDf || candidate === word) continue;
        if (d < bestDist || (d === bestDist && df > bestDf)) {
          best = candidate;
          bestDist = d;
          bestDf = df;
        }
      }
    }
    return best;
  }

  /** Every surface word memory holds (not stop words), in no particular order. */
  words(): IterableIterator<string> {
    return this.wordDf.keys();
  }

  /** Chunks containing the surface word. */
  wordFrequency(word: string): number {
    return (this.wordDf.get(word) ?? 0) * this.scale;
  }

  /**
   * Splits a run-together word into two words memory knows ("biweekly" → ["bi", "weekly"]),
   * preferring the split whose rarer part is most frequent; undefined when no split exists.
   */
  split(word: string): [string, string] | undefined {
    if (word.length < 6 || !/^[a-z]+$/.test(word)) return undefined;
    let best: [string, string] | undefined;
    let bestDf = 0;
    for (let i = 2; i <= word.length - 3; i++) {
      const a = word.slice(0, i);
      const b = word.slice(i);
      const df = Math.min(this.wordDf.get(a) ?? 0, this.wordDf.get(b) ?? 0);
      if (df > bestDf) {
        best = [a, b];
        bestDf = df;
      }
    }
    return best;
  }
}

/** A 32-bit set of the characters of a word (character code mod 32). */
export function letterMask(word: string): number {
  let m = 0;
  for (let i = 0; i < word.length; i++) m |= 1 << (word.charCodeAt(i) & 31);
  return m;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function bump(map: Map<string, number>, key: string, by: number): number {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
  return Math.max(n, 0);
}

/**
 * Optimal-string-alignment distance between a and b, giving up (returning max + 1) as soon as
 * every alignment exceeds `max`.
 */
export function boundedDamerau(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows = a.length + 1;
  const cols = b.length + 1;
  if (scratch.length < 3 * cols) scratch = new Int32Array(3 * cols * 2);
  // Three rows of the table in one reused buffer (no allocation per candidate word).
  let prevPrev = 0;
  let prev = cols;
  let cur = 2 * cols;
  const d = scratch;
  for (let j = 0; j < cols; j++) {
    d[prevPrev + j] = 0;
    d[prev + j] = j;
  }
  for (let i = 1; i < rows; i++) {
    d[cur] = i;
    let rowMin = i;
    for (let j = 1; j < cols; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min(d[prev + j]! + 1, d[cur + j - 1]! + 1, d[prev + j - 1]! + cost);
      if (
        i > 1 &&
        j > 1 &&
        a.charCodeAt(i - 1) === b.charCodeAt(j - 2) &&
        a.charCodeAt(i - 2) === b.charCodeAt(j - 1)
      )
        v = Math.min(v, d[prevPrev + j - 2]! + 1);
      d[cur + j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prevPrev;
    prevPrev = prev;
    prev = cur;
    cur = t;
  }
  return d[prev + cols - 1]!;
}

let scratch = new Int32Array(192);
