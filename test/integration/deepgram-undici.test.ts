// @slack/bolt is loaded first on purpose: it brings undici 7, which becomes the global dispatcher of
// Node 20's fetch — the situation of `atom serve` with Slack configured.
import "@slack/bolt";
import { DeepgramClient } from "@deepgram/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeepgramTranscriber } from "../../src/voice/deepgram.ts";
import {
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("deepgram-undici: ../shared/corpus/audio is missing; these tests are skipped");

describe.runIf(haveCorpus)("Deepgram uploads with @slack/bolt loaded in the same process", () => {
  let fake: FakeDeepgram;
  beforeAll(async () => {
    fake = await startFakeDeepgram();
    registerCorpusClips(fake);
  });
  afterAll(() => fake.close());

  it("the stock SDK client fails here with 'invalid content-length header' (the problem being guarded against)", async () => {
    const stock = new DeepgramClient({ apiKey: fake.apiKey, baseUrl: fake.url, maxRetries: 0 });
    const err = await stock.listen.v1.media
      .transcribeFile({ data: readCorpusClip("jfk.wav"), contentType: "audio/wav" }, { model: "nova-3" })
      .catch((e: unknown) => e);
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e.message);
    expect(chain.join(" <- ")).toContain("invalid content-length header");
  });

  it("Atom's Deepgram transcriber uploads every corpus clip successfully", async () => {
    const dg = createDeepgramTranscriber({ apiKey: fake.apiKey, baseUrl: fake.url });
    for (const [name, contentType] of [
      ["jfk.wav", "audio/wav"],
      ["remind-monday-9am.m4a", "audio/mp4"],
      ["remind-monday-9am.webm", "audio/webm"],
    ] as const) {
      const audio = readCorpusClip(name);
      const t = await dg.transcribe(audio, { contentType });
      expect(t.transcript).toBe(CORPUS_CLIPS[name]!.transcript);
      const call = fake.calls.at(-1)!;
      expect(call.bytes).toBe(audio.length);
      expect(call.contentLength).toBe(String(audio.length));
      expect(call.contentType).toBe(contentType);
    }
  });
});
