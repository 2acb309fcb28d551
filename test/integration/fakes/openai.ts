/**
 * A fake OpenAI embeddings API (`POST /v1/embeddings`) on 127.0.0.1, speaking OpenAI's wire format
 * (https://platform.openai.com/docs/api-reference/embeddings/create):
 * - auth: `Authorization: Bearer <key>` → otherwise 401
 *   `{"error":{"message","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`
 * - body: JSON `{model, input, encoding_format?, dimensions?, user?}`; `input` is a non-empty string
 *   or an array of 1..2048 non-empty strings; unknown models → 404 `model_not_found`; other bad
 *   input → 400 `invalid_request_error` naming the `param`
 * - response: `{object:"list", data:[{object:"embedding", index, embedding}], model, usage:
 *   {prompt_tokens, total_tokens}}`; `embedding` is a float array, or base64 of little-endian
 *   float32 when `encoding_format` is `base64`
 * - failures can be queued: 429 with `Retry-After` and/or `retry-after-ms`, 5xx, or vectors of the
 *   wrong length.
 * - models: OpenAI's three with their real dimensions, plus any test model with a dimension of its
 *   own (`models` option, {@link FakeOpenAi.setModel}), so model changes across dimensions can be
 *   exercised; a model removed with `setModel(name, undefined)` answers 404 `model_not_found`.
 *
 * Also `POST /v1/chat/completions` (JSON, or SSE `data: {chunk}` lines ending `data: [DONE]` with
 * `stream: true`, usage in a last chunk when `stream_options.include_usage`) answered by a scripted
 * reply or the deterministic reader of llm-answer.ts, and `GET /v1/models`. Chat failures are queued
 * separately ({@link FakeOpenAi.replyNext}): 401/429 with `retry-after`/500, or a delay.
 *
 * Embeddings are deterministic: {@link fakeEmbedding} hashes each word and its character trigrams
 * into the model's dimension and normalises, so texts sharing words — or only word parts, such as
 * "automatic" and "automation", which an English stemmer keeps apart — are close.
 */
import { createHash, randomUUID } from "node:crypto";
import http from "node:http";
import {
  extractiveModel,
  type FakeChatCall,
  type FakeChatReply,
  type FakeResponder,
  pieces,
} from "./llm-answer.ts";

/** Dimensions of the models the fake knows (as OpenAI's). */
export const FAKE_MODELS: Record<string, number> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
  /** Not an OpenAI model: a small one for tests of models whose dimension must be probed. */
  "fake-embedding-64": 64,
};

/** One request the fake received. */
export interface OpenAiCall {
  path: string;
  authorization?: string;
  model?: string;
  inputs: number;
  encodingFormat?: string;
  status: number;
}

/** A queued failure: the next requests get this answer. */
export interface OpenAiFailure {
  status: number;
  /** `Retry-After` header (seconds). */
  retryAfter?: string;
  /** `retry-after-ms` header (OpenAI sends it on 429). */
  retryAfterMs?: string;
  /** How many requests fail this way. Default 1. */
  times?: number;
  /** Instead of an error status: answer 200 with vectors this many dimensions too long (or short). */
  wrongDims?: number;
}

export interface FakeOpenAi {
  /** API root to use as `OPENAI_BASE_URL`, e.g. `http://127.0.0.1:43121/v1`. */
  url: string;
  apiKey: string;
  calls: OpenAiCall[];
  /** Queues failures answered before any normal response. */
  fail(failure: OpenAiFailure): void;
  /** Every request whose inputs contain this text fails with 500 until cleared (sync error tests). */
  failInputsContaining(text: string | undefined): void;
  /** Chat completion requests received (with the messages Atom sent). */
  chats: FakeChatCall[];
  /** Queues scripted chat replies (text, failure status, delay), used before the default responder. */
  replyNext(...replies: FakeChatReply[]): void;
  /** Replaces the default chat responder (undefined restores the reader of llm-answer.ts). */
  setResponder(fn: FakeResponder | undefined): void;
  /** Keys accepted besides `apiKey` (e.g. a workspace key set on the settings page). */
  acceptKey(key: string): void;
  /** Adds (or with undefined removes) an embedding model of this fake with its dimension. */
  setModel(name: string, dims: number | undefined): void;
  /** Input tokens the fake reported in embedding responses since the last reset. */
  embeddingTokens: number;
  /** Clears calls and queued failures. */
  reset(): void;
  close(): Promise<void>;
}

const STOP = new Set(
  "a an and are as at be by for from how i in is it of on or that the this to was what when where which who why with you your do does can".split(
    " ",
  ),
);

function hash32(s: string): number {
  return createHash("md5").update(s).digest().readUInt32LE(0);
}

/**
 * The fake's embedding of `text` in `dims` dimensions: every word (lower case, accents folded,
 * stop words dropped) adds weight 1 at its hashed position and its boundary-marked character
 * trigrams share weight 1 (signed hashing), then the vector is L2-normalised. Empty text gives a
 * fixed unit vector.
 */
export function fakeEmbedding(text: string, dims: number): number[] {
  const v = new Float64Array(dims);
  const words = (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  ).filter((w) => !STOP.has(w));
  const add = (feature: string, weight: number) => {
    const h = hash32(feature);
    v[h % dims]! += (h & 0x80000000 ? -1 : 1) * weight;
  };
  for (const w of words) {
    add(`w:${w}`, 1);
    const marked = `^${w}$`;
    const grams: string[] = [];
    for (let i = 0; i + 3 <= marked.length; i++) grams.push(marked.slice(i, i + 3));
    for (const g of grams) add(`g:${g}`, 1.5 / Math.sqrt(grams.length));
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  if (norm === 0) {
    v[0] = 1;
    norm = 1;
  }
  const n = Math.sqrt(norm);
  return Array.from(v, (x) => Math.fround(x / n));
}

function errorBody(message: string, type: string, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

/** Starts the fake on a free loopback port. */
export async function startFakeOpenAi(
  opts: { apiKey?: string; models?: Record<string, number> } = {},
): Promise<FakeOpenAi> {
  const models: Record<string, number> = { ...FAKE_MODELS, ...opts.models };
  const apiKey = opts.apiKey ?? `sk-test-${randomUUID().replace(/-/g, "")}`;
  const calls: OpenAiCall[] = [];
  let failures: OpenAiFailure[] = [];
  let failText: string | undefined;
  const chats: FakeChatCall[] = [];
  let scripted: FakeChatReply[] = [];
  let responder: FakeResponder = extractiveModel;
  const keys = new Set<string>([apiKey]);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const call: OpenAiCall = {
        path: req.url ?? "",
        authorization: req.headers.authorization,
        inputs: 0,
        status: 0,
      };
      calls.push(call);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        res.writeHead(status, {
          "content-type": "application/json",
          "x-request-id": `req_${randomUUID().replace(/-/g, "")}`,
          "openai-processing-ms": "3",
          ...headers,
        });
        res.end(JSON.stringify(body));
      };
      const url = new URL(req.url ?? "/", "http://localhost");
      const authorized = [...keys].some((k) => req.headers.authorization === `Bearer ${k}`);
      if (url.pathname === "/v1/models" || url.pathname === "/v1/chat/completions") {
        calls.pop();
        return void chatOrModels(req, res, url.pathname, Buffer.concat(chunks).toString("utf8"), authorized);
      }
      if (url.pathname !== "/v1/embeddings") {
        return send(
          404,
          errorBody(`Invalid URL (${req.method} ${url.pathname})`, "invalid_request_error", null),
        );
      }
      if (req.method !== "POST") {
        return send(405, errorBody(`Invalid method for ${url.pathname}`, "invalid_request_error", null));
      }
      if (!authorized) {
        return send(
          401,
          errorBody(
            req.headers.authorization
              ? "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
              : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
            req.headers.authorization ? "invalid_api_key" : null,
          ),
        );
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error("not an object");
      } catch {
        return send(
          400,
          errorBody(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
            "invalid_request_error",
            null,
          ),
        );
      }
      call.model = typeof body.model === "string" ? body.model : undefined;
      call.encodingFormat = typeof body.encoding_format === "string" ? body.encoding_format : undefined;

      const failure = failures[0];
      if (failure && !failure.wrongDims) {
        failure.times = (failure.times ?? 1) - 1;
        if (failure.times <= 0) failures.shift();
        const headers: Record<string, string> = {};
        if (failure.retryAfter !== undefined) headers["retry-after"] = failure.retryAfter;
        if (failure.retryAfterMs !== undefined) headers["retry-after-ms"] = failure.retryAfterMs;
        if (failure.status === 429) {
          return send(
            429,
            errorBody(
              "Rate limit reached for text-embedding-3-small in organization org-fake on requests per min (RPM): Limit 3000, Used 3000, Requested 1. Please try again in 20ms.",
              "requests",
              "rate_limit_exceeded",
            ),
            headers,
          );
        }
        return send(
          failure.status,
          errorBody(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            null,
          ),
          headers,
        );
      }

      if (typeof body.model !== "string" || body.model === "") {
        return send(
          400,
          errorBody("you must provide a model parameter", "invalid_request_error", null, "model"),
        );
      }
      const baseDims = models[body.model];
      if (baseDims === undefined) {
        return send(
          404,
          errorBody(
            `The model \`${body.model}\` does not exist or you do not have access to it.`,
            "invalid_request_error",
            "model_not_found",
          ),
        );
      }
      const input = body.input;
      const inputs = typeof input === "string" ? [input] : input;
      if (
        !Array.isArray(inputs) ||
        inputs.length === 0 ||
        inputs.length > 2048 ||
        !inputs.every((s) => typeof s === "string" && s.length > 0)
      ) {
        return send(
          400,
          errorBody(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            "invalid_request_error",
            null,
            "input",
          ),
        );
      }
      const format = body.encoding_format ?? "float";
      if (format !== "float" && format !== "base64") {
        return send(
          400,
          errorBody(
            `Invalid value for 'encoding_format': '${String(format)}'. Supported values are: 'float' and 'base64'.`,
            "invalid_request_error",
            "invalid_value",
            "encoding_format",
          ),
        );
      }
      let dims = baseDims;
      if (body.dimensions !== undefined) {
        const d = body.dimensions;
        if (
          !body.model.startsWith("text-embedding-3") ||
          typeof d !== "number" ||
          !Number.isInteger(d) ||
          d < 1 ||
          d > baseDims
        ) {
          return send(
            400,
            errorBody(
              "This model does not support specifying dimensions.",
              "invalid_request_error",
              null,
              "dimensions",
            ),
          );
        }
        dims = d;
      }
      call.inputs = inputs.length;
      if (failText !== undefined && (inputs as string[]).some((s) => s.includes(failText!))) {
        return send(
          500,
          errorBody(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            null,
          ),
        );
      }
      let wrong = 0;
      if (failure?.wrongDims) {
        failure.times = (failure.times ?? 1) - 1;
        if (failure.times <= 0) failures.shift();
        wrong = failure.wrongDims;
      }
      let tokens = 0;
      const data = (inputs as string[]).map((text, index) => {
        tokens += Math.max(1, Math.ceil(text.length / 4));
        const vec = fakeEmbedding(text, Math.max(1, dims + wrong));
        const embedding =
          format === "base64" ? Buffer.from(new Float32Array(vec).buffer).toString("base64") : vec;
        return { object: "embedding", index, embedding };
      });
      out.embeddingTokens += tokens;
      send(200, {
        object: "list",
        data,
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    });
  });
  async function chatOrModels(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    raw: string,
    authorized: boolean,
  ): Promise<void> {
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": "application/json",
        "x-request-id": `req_${randomUUID().replace(/-/g, "")}`,
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const unauthorized = () =>
      json(
        401,
        errorBody(
          "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
          "invalid_request_error",
          "invalid_api_key",
        ),
      );
    if (path === "/v1/models") {
      if (req.method !== "GET") return json(405, errorBody("Invalid method", "invalid_request_error", null));
      if (!authorized) return unauthorized();
      return json(200, {
        object: "list",
        data: ["gpt-4.1-mini", "gpt-4.1", ...Object.keys(models)].map((id) => ({
          id,
          object: "model",
          created: 1_700_000_000,
          owned_by: "openai",
        })),
      });
    }
    let body: {
      model?: string;
      messages?: { role: string; content: string }[];
      stream?: boolean;
      stream_options?: { include_usage?: boolean };
    };
    try {
      body = JSON.parse(raw);
    } catch {
      return json(
        400,
        errorBody("We could not parse the JSON body of your request.", "invalid_request_error", null),
      );
    }
    const messages = (body.messages ?? []).map((m) => ({ role: m.role, content: String(m.content) }));
    const call: FakeChatCall = {
      provider: "openai",
      path,
      credential: req.headers.authorization,
      model: body.model,
      stream: body.stream === true,
      system: messages
        .filter((m) => m.role === "system")
        .map((m) => m.content)
        .join("\n"),
      messages: messages.filter((m) => m.role !== "system"),
      status: 0,
    };
    chats.push(call);
    if (!authorized) {
      call.status = 401;
      return unauthorized();
    }
    if (!body.model || messages.length === 0) {
      call.status = 400;
      return json(
        400,
        errorBody("you must provide a model parameter", "invalid_request_error", null, "model"),
      );
    }
    const reply = scripted.shift() ?? responder(call);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.destroyed) return;
    if (reply.status && reply.status !== 200) {
      call.status = reply.status;
      if (reply.status === 429) {
        return json(
          429,
          errorBody(
            "Rate limit reached for gpt-4.1-mini on tokens per min (TPM).",
            "tokens",
            "rate_limit_exceeded",
          ),
          reply.retryAfter ? { "retry-after": reply.retryAfter } : {},
        );
      }
      if (reply.status === 401) return unauthorized();
      return json(
        reply.status,
        errorBody(
          "The server had an error while processing your request. Sorry about that!",
          "server_error",
          null,
        ),
      );
    }
    const text = reply.text ?? "";
    const id = `chatcmpl-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = Math.ceil(messages.reduce((s, m) => s + m.content.length, 0) / 4);
    const completionTokens = Math.max(1, Math.ceil(text.length / 4));
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    call.status = 200;
    if (!body.stream) {
      return json(200, {
        id,
        object: "chat.completion",
        created,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: text, refusal: null },
            logprobs: null,
            finish_reason: "stop",
          },
        ],
        usage,
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, system_fingerprint: "fp_fake", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: "assistant", content: "", refusal: null }, null));
    for (const p of pieces(text)) {
      res.write(chunk({ content: p }, null));
      await new Promise((r) => (reply.pieceDelayMs ? setTimeout(r, reply.pieceDelayMs) : setImmediate(r)));
    }
    res.write(chunk({}, "stop"));
    if (body.stream_options?.include_usage) {
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage })}\n\n`,
      );
    }
    res.end("data: [DONE]\n\n");
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const out: FakeOpenAi = {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    calls,
    fail(failure) {
      failures.push({ ...failure });
    },
    failInputsContaining(text) {
      failText = text;
    },
    chats,
    replyNext(...replies) {
      scripted.push(...replies);
    },
    setResponder(fn) {
      responder = fn ?? extractiveModel;
    },
    acceptKey(key) {
      keys.add(key);
    },
    setModel(name, dims) {
      if (dims === undefined) delete models[name];
      else models[name] = dims;
    },
    embeddingTokens: 0,
    reset() {
      out.embeddingTokens = 0;
      calls.length = 0;
      failures = [];
      failText = undefined;
      chats.length = 0;
      scripted = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return out;
}
