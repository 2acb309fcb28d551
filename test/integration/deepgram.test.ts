import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDeepgramTranscriber, parseRetryAfter } from "../../src/voice/deepgram.ts";
import { type Transcriber, TranscriptionError } from "../../src/voice/transcriber.ts";
import {
  CORPUS_AUDIO_DIR,
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("deepgram: ../shared/corpus/audio is missing; these tests are skipped");

describe.runIf(haveCorpus)("Deepgram transcriber (real @deepgram/sdk against a fake /v1/listen)", () => {
  let fake: FakeDeepgram;
  let dg: Transcriber;
  const sleeps: number[] = [];

  beforeAll(async () => {
    fake = await startFakeDeepgram();
    registerCorpusClips(fake);
    dg = createDeepgramTranscriber({
      apiKey: fake.apiKey,
      baseUrl: fake.url,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.reset();
    sleeps.length = 0;
  });

  it.each([
    ["jfk.wav", "audio/wav"],
    ["remind-monday-9am.m4a", "audio/mp4"],
    ["remind-monday-9am.webm", "audio/webm"],
    ["remind-monday-9am.wav", "audio/wav"],
    ["counting-one-to-five.m4a", "audio/mp4"],
  ])(
    "%s: token auth, model, smart_format, punctuate, %s body → transcript and words",
    async (name, contentType) => {
      const audio = readCorpusClip(name);
      const t = await dg.transcribe(audio, { contentType });
      const clip = CORPUS_CLIPS[name]!;
      expect(t.transcript).toBe(clip.transcript);
      expect(t.durationSeconds).toBe(clip.duration);
      expect(t.confidence).toBeGreaterThan(0.5);
      expect(t.words.length).toBe(clip.transcript.split(" ").length);
      expect(t.words[0]!.start).toBe(0);
      expect(t.language).toBeUndefined();
      expect(fake.calls).toHaveLength(1);
      const call = fake.calls[0]!;
      expect(call.status).toBe(200);
      expect(call.authorization).toBe(`Token ${fake.apiKey}`);
      expect(call.contentType).toBe(contentType);
      expect(call.bytes).toBe(audio.length);
      expect(call.query).toMatchObject({ model: "nova-3", smart_format: "true", punctuate: "true" });
      expect(call.query.language).toBeUndefined();
      expect(call.query.detect_language).toBeUndefined();
    },
  );

  it("sends language=<code>, or detect_language=true and returns the detected language", async () => {
    const audio = readCorpusClip("jfk.wav");
    await dg.transcribe(audio, { contentType: "audio/wav", language: "en-US" });
    expect(fake.calls[0]!.query.language).toBe("en-US");
    const detected = await dg.transcribe(audio, { contentType: "audio/wav", detectLanguage: true });
    expect(fake.calls[1]!.query.detect_language).toBe("true");
    expect(fake.calls[1]!.query.language).toBeUndefined();
    expect(detected.language).toBe("en");
  });

  it("uses the configured model", async () => {
    const other = createDeepgramTranscriber({
      apiKey: fake.apiKey,
      baseUrl: `${fake.url}/`,
      model: "nova-2",
    });
    await other.transcribe(readCorpusClip("remind-monday-9am.wav"), { contentType: "audio/wav" });
    expect(fake.calls[0]!.query.model).toBe("nova-2");
  });

  it("401 (refused key) fails at once as unauthorized, and the key is not in the error", async () => {
    const wrong = createDeepgramTranscriber({ apiKey: "dg-wrong-key-aaaaaaaaaaaa", baseUrl: fake.url });
    const err = await wrong
      .transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TranscriptionError);
    expect(err.kind).toBe("unauthorized");
    expect(err.status).toBe(401);
    expect(err.message).toContain("INVALID_AUTH");
    expect(err.message).not.toContain("dg-wrong-key");
    expect(err.requestId).toMatch(/[0-9a-f-]{36}/);
    expect(fake.calls).toHaveLength(1);
  });

  it("400 (unsupported data) fails at once as bad_request, without retries", async () => {
    fake.fail({ status: 400 });
    const err = await dg.transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" }).catch((e) => e);
    expect(err.kind).toBe("bad_request");
    expect(err.message).toContain("corrupt or unsupported data");
    expect(fake.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("429 is retried after Retry-After, then succeeds", async () => {
    fake.fail({ status: 429, retryAfter: "3", times: 2 });
    const t = await dg.transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" });
    expect(t.transcript).toBe(CORPUS_CLIPS["jfk.wav"]!.transcript);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(sleeps).toEqual([3000, 3000]);
  });

  it("5xx is retried with back-off; the retries are bounded", async () => {
    fake.fail({ status: 503, times: 1 });
    const ok = await dg.transcribe(readCorpusClip("remind-monday-9am.m4a"), { contentType: "audio/mp4" });
    expect(ok.transcript).toContain("Monday");
    expect(fake.calls.map((c) => c.status)).toEqual([503, 200]);

    fake.reset();
    sleeps.length = 0;
    fake.fail({ status: 500, times: 10 });
    const err = await dg.transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" }).catch((e) => e);
    expect(err.kind).toBe("unavailable");
    expect(err.attempts).toBe(3);
    expect(fake.calls).toHaveLength(3);
    expect(sleeps).toEqual([500, 1000]);
  });

  it("a Retry-After longer than Atom waits fails as rate_limited without waiting", async () => {
    fake.fail({ status: 429, retryAfter: "3600" });
    const err = await dg.transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" }).catch((e) => e);
    expect(err.kind).toBe("rate_limited");
    expect(err.message).toContain("3600 s");
    expect(sleeps).toEqual([]);
    expect(fake.calls).toHaveLength(1);
  });

  it("really waits for Retry-After with the default sleep", async () => {
    const real = createDeepgramTranscriber({ apiKey: fake.apiKey, baseUrl: fake.url });
    fake.fail({ status: 429, retryAfter: "1" });
    const started = Date.now();
    await real.transcribe(readCorpusClip("remind-monday-9am.webm"), { contentType: "audio/webm" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it("an unreachable server is a network error, not a crash", async () => {
    const dead = createDeepgramTranscriber({ apiKey: fake.apiKey, baseUrl: "http://127.0.0.1:9" });
    const err = await dead
      .transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(TranscriptionError);
    expect(err.kind).toBe("network");
  });

  it("the fake's transcripts are the ones NOTICE.md gives for the corpus clips", () => {
    const norm = (t: string) =>
      t
        .toLowerCase()
        .replace(/[^a-z0-9 ]+/g, " ")
        .replace(/\s+/g, " ")
        .trim();
    const notice = norm(fs.readFileSync(path.join(CORPUS_AUDIO_DIR, "NOTICE.md"), "utf8"));
    for (const [name, clip] of Object.entries(CORPUS_CLIPS)) {
      expect(notice, name).toContain(norm(clip.transcript));
    }
  });

  it("parses Retry-After seconds and HTTP dates", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
