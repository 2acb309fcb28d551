/**
 * The OpenAI embedder with the real `openai` SDK against the loopback fake of `POST /v1/embeddings`:
 * wire format, batching, vector length checks, retries on 429/5xx, errors without the key.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { batchRanges, createOpenAiEmbedder, EmbeddingError, retryAfterOf } from "../../src/memory/embed.ts";
import { type FakeOpenAi, fakeEmbedding, startFakeOpenAi } from "./fakes/openai.ts";

let fake: FakeOpenAi;
beforeAll(async () => {
  fake = await startFakeOpenAi();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** The parts of an embeddings response or error body these tests read. */
interface WireBody {
  object: string;
  model: string;
  data: { index: number; embedding: number[] }[];
  usage: { prompt_tokens: number; total_tokens: number };
  error: { message: string; type: string; code: string | null };
}

describe("fake OpenAI embeddings wire format (raw HTTP)", () => {
  const post = (body: unknown, key = fake.apiKey) =>
    fetch(`${fake.url}/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("answers a list of float embeddings with usage", async () => {
    const res = await post({
      model: "text-embedding-3-small",
      input: ["hello world", "bye"],
      encoding_format: "float",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as WireBody;
    expect(body.object).toBe("list");
    expect(body.model).toBe("text-embedding-3-small");
    expect(body.data).toHaveLength(2);
    expect(body.data[1]!.index).toBe(1);
    expect(body.data[0]!.embedding).toHaveLength(1536);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens);
  });

  it("rejects a bad key with 401 and OpenAI's error shape", async () => {
    const res = await post({ model: "text-embedding-3-small", input: "x" }, "sk-wrong");
    expect(res.status).toBe(401);
    const body = (await res.json()) as WireBody;
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_api_key" });
    expect(typeof body.error.message).toBe("string");
  });

  it("validates input, model and encoding_format", async () => {
    expect((await post({ model: "text-embedding-3-small", input: [] })).status).toBe(400);
    expect((await post({ model: "text-embedding-3-small", input: [""] })).status).toBe(400);
    expect(
      (await post({ model: "text-embedding-3-small", input: "x", encoding_format: "int8" })).status,
    ).toBe(400);
    expect((await post({ input: "x" })).status).toBe(400);
    const unknown = await post({ model: "no-such-model", input: "x" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as WireBody).error.code).toBe("model_not_found");
  });
});

describe("fakeEmbedding", () => {
  it("is deterministic, unit length, and puts texts sharing word parts close", () => {
    const a = fakeEmbedding("automation of invoices", 256);
    expect(fakeEmbedding("automation of invoices", 256)).toEqual(a);
    expect(cosine(a, a)).toBeCloseTo(1, 4);
    const near = fakeEmbedding("automatic invoicing", 256);
    const far = fakeEmbedding("parental leave policy", 256);
    expect(cosine(a, near)).toBeGreaterThan(cosine(a, far) + 0.2);
  });
});

describe("createOpenAiEmbedder (real openai SDK → fake)", () => {
  it("embeds with encoding_format float, in order, with the model's known dimension", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-small",
    });
    expect(e.dims).toBe(1536);
    expect(fake.calls).toHaveLength(0); // known model: no probe
    const texts = ["alpha beta", "gamma", "delta epsilon"];
    const vectors = await e.embed(texts);
    expect(vectors.map((v) => v.length)).toEqual([1536, 1536, 1536]);
    expect(vectors[2]).toEqual(fakeEmbedding("delta epsilon", 1536));
    expect(fake.calls[0]!.encodingFormat).toBe("float");
    expect(fake.calls[0]!.authorization).toBe(`Bearer ${fake.apiKey}`);
  });

  it("knows the large model's dimension", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-large",
    });
    expect(e.dims).toBe(3072);
    expect((await e.embed(["x"]))[0]).toHaveLength(3072);
  });

  it("probes the dimension of an unknown model once", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
    });
    expect(e.dims).toBe(64);
    expect(fake.calls).toHaveLength(1);
    await e.embed(["one", "two"]);
    expect(fake.calls).toHaveLength(2);
  });

  it("splits large inputs into batches and keeps the order", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
      dims: 64,
      batchSize: 7,
    });
    const texts = Array.from({ length: 30 }, (_, i) => `document number ${i} about topic ${i % 5}`);
    const vectors = await e.embed(texts);
    expect(fake.calls.length).toBe(5);
    expect(Math.max(...fake.calls.map((c) => c.inputs))).toBeLessThanOrEqual(7);
    vectors.forEach((v, i) => {
      expect(v).toEqual(fakeEmbedding(texts[i]!, 64));
    });
  });

  it("sends empty texts as a space (OpenAI rejects empty strings)", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
      dims: 64,
    });
    const [v] = await e.embed(["   "]);
    expect(v).toHaveLength(64);
  });

  it("refuses vectors of the wrong length", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-small",
    });
    fake.fail({ status: 200, wrongDims: -1 });
    await expect(e.embed(["hello"])).rejects.toThrow(/length 1535, expected 1536/);
    fake.fail({ status: 200, wrongDims: 3 });
    await expect(e.embed(["hello"])).rejects.toBeInstanceOf(EmbeddingError);
    // A configured dimension that the model does not produce is refused as well.
    const wrong = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
      dims: 65,
    });
    await expect(wrong.embed(["hello"])).rejects.toThrow(/expected 65/);
  });

  it("retries a 429 after the Retry-After the server sends", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-small",
    });
    fake.fail({ status: 429, retryAfter: "1", times: 1 });
    const started = Date.now();
    const [v] = await e.embed(["rate limited"]);
    expect(v).toHaveLength(1536);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it("honours retry-after-ms and retries 5xx", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-small",
    });
    fake.fail({ status: 429, retryAfterMs: "50" });
    fake.fail({ status: 503, retryAfterMs: "20" });
    fake.fail({ status: 500, retryAfterMs: "20" });
    await e.embed(["busy"]);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 503, 500, 200]);
  });

  it("gives up after the bounded retries with a clear error", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "text-embedding-3-small",
      maxRetries: 2,
    });
    fake.fail({ status: 429, retryAfterMs: "10", times: 5 });
    const err = await e.embed(["x"]).catch((x) => x);
    expect(err).toBeInstanceOf(EmbeddingError);
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/HTTP 429.*rate_limit_exceeded/);
    expect(fake.calls).toHaveLength(3);
  });

  it("reports a bad key without revealing it", async () => {
    const key = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const e = await createOpenAiEmbedder({ apiKey: key, baseURL: fake.url, model: "text-embedding-3-small" });
    const err = await e.embed(["x"]).catch((x) => x);
    expect(err).toBeInstanceOf(EmbeddingError);
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/401/);
    expect(err.message).not.toContain(key);
    expect(fake.calls).toHaveLength(1); // 401 is not retried
  });

  it("the SDK's default (base64) encoding is decoded to the same floats by the fake", async () => {
    const client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0 });
    const res = await client.embeddings.create({ model: "fake-embedding-64", input: "same text" });
    expect(fake.calls[0]!.encodingFormat).toBe("base64");
    expect(res.data[0]!.embedding).toEqual(fakeEmbedding("same text", 64));
  });
});

describe("usage and rate-limit waits", () => {
  it("reports each request's prompt tokens to onUsage", async () => {
    let tokens = 0;
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
      dims: 64,
      batchSize: 2,
      onUsage: (n) => {
        tokens += n;
      },
    });
    await e.embed(["alpha beta gamma", "delta", "epsilon zeta"]);
    expect(fake.calls.length).toBe(2);
    expect(tokens).toBe(fake.embeddingTokens);
    expect(tokens).toBeGreaterThan(0);
  });

  it("a 429 that outlasts the retries carries the provider's wait", async () => {
    const e = await createOpenAiEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: "fake-embedding-64",
      dims: 64,
      maxRetries: 0,
    });
    fake.fail({ status: 429, retryAfter: "7" });
    const err = await e.embed(["x"]).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(EmbeddingError);
    expect((err as EmbeddingError).status).toBe(429);
    expect((err as EmbeddingError).retryAfterMs).toBe(7000);
  });

  it("reads retry-after-ms first, then Retry-After seconds or date", () => {
    expect(retryAfterOf(new Headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
    expect(retryAfterOf({ "retry-after": "2" })).toBe(2000);
    const at = retryAfterOf({ "retry-after": new Date(Date.now() + 5000).toUTCString() })!;
    expect(at).toBeGreaterThan(3000);
    expect(at).toBeLessThanOrEqual(5000);
    expect(retryAfterOf({ "retry-after": "soon" })).toBeUndefined();
    expect(retryAfterOf(undefined)).toBeUndefined();
  });
});

describe("batching helpers", () => {
  it("bounds batches by count and characters", () => {
    expect(batchRanges(["a", "b", "c", "d", "e"], 2, 100)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(batchRanges(["aaaa", "bbbb", "cc", "dddddddddd"], 10, 6)).toEqual([
      [0, 1],
      [1, 3],
      [3, 4],
    ]);
    expect(batchRanges([], 3, 10)).toEqual([]);
  });
});
