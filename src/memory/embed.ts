import type OpenAI from "openai";
import { scrubSecrets } from "../observability/logger.ts";

/**
 * The Embedder port: turns texts into vectors of one fixed dimension. Memory uses it for vector
 * and hybrid search when one is configured (an OpenAI key); without one, memory is FTS only.
 */
export interface Embedder {
  /** Model id, recorded with the chunks table (a change re-embeds everything). */
  model: string;
  /** Length of every vector `embed` returns. */
  dims: number;
  /**
   * Embeds `texts` (any number; batched internally), one vector per text, in order.
   * @throws EmbeddingError when the provider fails after bounded retries or returns a vector of the
   *   wrong length.
   */
  embed(texts: string[]): Promise<number[][]>;
}

/** An embedding request that failed. `message` never contains the API key. */
export class EmbeddingError extends Error {
  constructor(
    message: string,
    /** HTTP status of the provider's last answer, when there was one. */
    readonly status?: number,
    /** How long the provider asked to wait before the next request (429 `retry-after(-ms)`), ms. */
    readonly retryAfterMs?: number,
  ) {
    super(scrubSecrets(message));
    this.name = "EmbeddingError";
  }
}

/** Vector lengths of OpenAI's embedding models (https://platform.openai.com/docs/guides/embeddings). */
export const OPENAI_EMBEDDING_DIMS: Readonly<Record<string, number>> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

/** Settings of the OpenAI embedder. */
export interface OpenAiEmbedderOptions {
  apiKey: string;
  /** API root including `/v1` (default `https://api.openai.com/v1`); tests point it at a fake. */
  baseURL?: string;
  /** Embedding model id, e.g. `text-embedding-3-small`. */
  model: string;
  /** Vector length; looked up for known models, otherwise probed with one request. */
  dims?: number;
  /**
   * Retries of one request on 408/409/429/5xx and connection errors (the SDK's own retry: it waits
   * `retry-after-ms` / `Retry-After` when the server sends one under 60 s, else backs off
   * exponentially from 0.5 s to 8 s). Default 4.
   */
  maxRetries?: number;
  /** Per-request timeout, ms (default 60 000). */
  timeoutMs?: number;
  /** Texts per request (OpenAI accepts at most 2048 inputs; default 256). */
  batchSize?: number;
  /** Characters per request, keeping a request well under OpenAI's 300 000-token cap (default 400 000). */
  maxBatchChars?: number;
  /** Requests in flight at once (default 2). */
  concurrency?: number;
  /**
   * Called after each successful request with the input tokens it used (`usage.prompt_tokens`;
   * estimated as characters / 4 when the server sends no usage), for usage accounting.
   */
  onUsage?: (tokens: number) => void;
}

/** OpenAI rejects empty strings; an input of only whitespace is sent as one space. */
const EMPTY_PLACEHOLDER = " ";
/** About 8 000 tokens: OpenAI's per-input limit is 8 192 tokens; longer inputs are cut. */
const MAX_INPUT_CHARS = 24_000;

/**
 * Creates an Embedder over OpenAI's `POST /v1/embeddings` with the official SDK, requesting
 * `encoding_format: "float"` (the SDK would otherwise ask for base64). Texts are sent in batches
 * (count- and size-bounded, a few in parallel); every returned vector's length is checked against
 * `dims`, since LanceDB pads a wrong-length vector with nulls without complaint.
 * For a model not in {@link OPENAI_EMBEDDING_DIMS} and no `dims`, one probe request learns the length.
 * @throws EmbeddingError when the probe fails.
 */
export async function createOpenAiEmbedder(opts: OpenAiEmbedderOptions): Promise<Embedder> {
  if (!opts.apiKey) throw new EmbeddingError("an OpenAI API key is required for embeddings");
  // Loaded on demand: a process without a key never carries the SDK.
  const { default: OpenAIClient } = await import("openai");
  const client = new OpenAIClient({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: opts.maxRetries ?? 4,
    timeout: opts.timeoutMs ?? 60_000,
  });
  const model = opts.model;
  const batchSize = Math.max(1, Math.min(2048, opts.batchSize ?? 256));
  const maxBatchChars = Math.max(1, opts.maxBatchChars ?? 400_000);
  const concurrency = Math.max(1, opts.concurrency ?? 2);

  async function request(texts: string[]): Promise<number[][]> {
    let res: OpenAI.CreateEmbeddingResponse;
    try {
      res = await client.embeddings.create({ model, input: texts, encoding_format: "float" });
    } catch (err) {
      throw toEmbeddingError(err, OpenAIClient.APIError);
    }
    const used = Number(res?.usage?.prompt_tokens);
    opts.onUsage?.(
      Number.isFinite(used) && used >= 0 ? used : Math.ceil(texts.reduce((s, t) => s + t.length, 0) / 4),
    );
    if (!Array.isArray(res?.data) || res.data.length !== texts.length) {
      throw new EmbeddingError(
        `OpenAI returned ${Array.isArray(res?.data) ? res.data.length : "no"} embeddings for ${texts.length} inputs`,
      );
    }
    const out: number[][] = new Array(texts.length);
    for (const item of res.data) {
      const i = item.index;
      if (!Number.isInteger(i) || i < 0 || i >= texts.length || out[i]) {
        throw new EmbeddingError(`OpenAI returned an embedding with an invalid index ${String(i)}`);
      }
      if (!Array.isArray(item.embedding)) throw new EmbeddingError("OpenAI returned a non-float embedding");
      out[i] = item.embedding;
    }
    return out;
  }

  let dims = opts.dims ?? OPENAI_EMBEDDING_DIMS[model];
  if (dims === undefined) {
    const [probe] = await request(["dimension probe"]);
    dims = probe!.length;
    if (dims === 0) throw new EmbeddingError(`model ${model} returned an empty embedding`);
  }
  const expected = dims;

  return {
    model,
    dims: expected,
    async embed(texts: string[]): Promise<number[][]> {
      const inputs = texts.map(prepareInput);
      const batches = batchRanges(inputs, batchSize, maxBatchChars);
      const out: number[][] = new Array(inputs.length);
      let next = 0;
      const worker = async () => {
        while (next < batches.length) {
          const [start, end] = batches[next++]!;
          const vectors = await request(inputs.slice(start, end));
          vectors.forEach((v, k) => {
            checkVector(v, expected, model);
            out[start + k] = v;
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
      return out;
    },
  };
}

/**
 * Checks one vector: exactly `dims` finite numbers.
 * @throws EmbeddingError otherwise.
 */
export function checkVector(v: unknown, dims: number, model = "the model"): asserts v is number[] {
  if (!Array.isArray(v) || v.length !== dims) {
    throw new EmbeddingError(
      `${model} returned a vector of length ${Array.isArray(v) ? v.length : "?"}, expected ${dims}`,
    );
  }
  for (const x of v) {
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new EmbeddingError(`${model} returned a vector with a non-numeric value`);
    }
  }
}

/** Index ranges `[start, end)` of consecutive inputs, each at most `size` texts and `maxChars` characters. */
export function batchRanges(inputs: string[], size: number, maxChars: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let chars = 0;
  for (let i = 0; i < inputs.length; i++) {
    const len = inputs[i]!.length;
    if (i > start && (i - start >= size || chars + len > maxChars)) {
      out.push([start, i]);
      start = i;
      chars = 0;
    }
    chars += len;
  }
  if (start < inputs.length) out.push([start, inputs.length]);
  return out;
}

function prepareInput(text: string): string {
  const t = text.length > MAX_INPUT_CHARS ? cutAt(text, MAX_INPUT_CHARS) : text;
  return t.trim() === "" ? EMPTY_PLACEHOLDER : t;
}

/** Cuts a string to at most `max` code units without splitting a surrogate pair. */
function cutAt(text: string, max: number): string {
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

function toEmbeddingError(err: unknown, apiError: typeof OpenAI.APIError): EmbeddingError {
  if (err instanceof EmbeddingError) return err;
  if (err instanceof apiError) {
    const detail = [err.code, err.type].filter(Boolean).join(", ");
    const what = err.status ? `HTTP ${err.status}${detail ? ` (${detail})` : ""}` : "no response";
    const msg =
      typeof err.error === "object" && err.error ? (err.error as { message?: unknown }).message : undefined;
    return new EmbeddingError(
      `OpenAI embeddings failed: ${what}${typeof msg === "string" ? `: ${msg.slice(0, 200)}` : ""}`,
      err.status,
      retryAfterOf(err.headers),
    );
  }
  return new EmbeddingError(`OpenAI embeddings failed: ${(err as Error)?.message ?? String(err)}`);
}

/**
 * The wait a provider asked for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds or as an
 * HTTP date (RFC 9110 §10.2.3), in ms; undefined when absent or unreadable.
 */
export function retryAfterOf(
  headers: Headers | Record<string, string | null | undefined> | undefined,
): number | undefined {
  if (!headers) return undefined;
  const get = (name: string) =>
    headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()]);
  const ms = Number.parseFloat(get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const raw = get("retry-after");
  if (!raw) return undefined;
  const s = Number.parseFloat(raw);
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * The text embedded for a chunk: what full-text search indexes without its repetitions — title,
 * heading path and passage text.
 */
export function embeddingText(title: string, headings: string[], text: string): string {
  return [title, headings.join(" > "), text].filter((s) => s.trim() !== "").join("\n");
}
