import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runTranscribe } from "../../src/voice/cli.ts";
import {
  CORPUS_AUDIO_DIR,
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("voice-cli: ../shared/corpus/audio is missing; these tests are skipped");

function io() {
  const out = { stdout: "", stderr: "" };
  return {
    out,
    sinks: {
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
    },
  };
}

describe.runIf(haveCorpus)("atom transcribe <file>", () => {
  let fake: FakeDeepgram;
  let env: NodeJS.ProcessEnv;
  let tmp: string;
  const clip = (name: string) => path.join(CORPUS_AUDIO_DIR, name);

  beforeAll(async () => {
    fake = await startFakeDeepgram();
    registerCorpusClips(fake);
    env = { DEEPGRAM_API_KEY: fake.apiKey, DEEPGRAM_API_URL: fake.url };
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "atom-transcribe-"));
  });
  afterAll(async () => {
    await fake.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  beforeEach(() => fake.reset());

  it("prints the transcript of a real clip", async () => {
    const { out, sinks } = io();
    const code = await runTranscribe([clip("jfk.wav")], sinks, { env });
    expect(code).toBe(0);
    expect(out.stdout).toBe(`${CORPUS_CLIPS["jfk.wav"]!.transcript}\n`);
    expect(out.stderr).toContain("wav, 0:11");
    expect(fake.calls[0]!.contentType).toBe("audio/wav");
  });

  it("--json prints the details; --language is passed on", async () => {
    const { out, sinks } = io();
    const code = await runTranscribe(
      [clip("remind-monday-9am.webm"), "--json", "--language", "en-GB"],
      sinks,
      {
        env,
      },
    );
    expect(code).toBe(0);
    const parsed = JSON.parse(out.stdout);
    expect(parsed).toMatchObject({
      file: "remind-monday-9am.webm",
      format: "webm",
      contentType: "audio/webm",
      transcript: CORPUS_CLIPS["remind-monday-9am.webm"]!.transcript,
      durationSeconds: 4.08,
      language: "en-GB",
    });
    expect(parsed.words.length).toBeGreaterThan(5);
    expect(fake.calls[0]!.query.language).toBe("en-GB");

    const detect = io();
    expect(
      await runTranscribe(["--language=detect", clip("counting-one-to-five.m4a")], detect.sinks, { env }),
    ).toBe(0);
    expect(fake.calls[1]!.query.detect_language).toBe("true");
    expect(detect.out.stderr).toContain(", en)");
  });

  it("no key: exit 1 with how to enable it, nothing sent", async () => {
    const { out, sinks } = io();
    expect(await runTranscribe([clip("jfk.wav")], sinks, { env: {} })).toBe(1);
    expect(out.stderr).toMatch(/set DEEPGRAM_API_KEY/);
    expect(out.stdout).toBe("");
    expect(fake.calls).toHaveLength(0);
  });

  it("an unsupported file, a missing file and a too-large file: exit 1 with a clear message", async () => {
    const html = path.join(tmp, "login.m4a");
    fs.writeFileSync(html, "<!DOCTYPE html><html><body>Sign in</body></html>");
    const a = io();
    expect(await runTranscribe([html], a.sinks, { env })).toBe(1);
    expect(a.out.stderr).toMatch(/login\.m4a is not an audio file Atom can read \(supported: WAV/);
    const b = io();
    expect(await runTranscribe([path.join(tmp, "nope.wav")], b.sinks, { env })).toBe(1);
    expect(b.out.stderr).toMatch(/no such file/);
    const c = io();
    expect(
      await runTranscribe([clip("jfk.wav")], c.sinks, { env: { ...env, VOICE_MAX_BYTES: "102400" } }),
    ).toBe(1);
    expect(c.out.stderr).toContain("the limit is 0.1 MB");
    expect(fake.calls).toHaveLength(0);
  });

  it("Deepgram refusing the key: exit 1, a clear message, the key not printed", async () => {
    const { out, sinks } = io();
    const code = await runTranscribe([clip("jfk.wav")], sinks, {
      env: { ...env, DEEPGRAM_API_KEY: "dg-bad-key-for-cli-0000" },
    });
    expect(code).toBe(1);
    expect(out.stderr).toContain("the Deepgram key was refused");
    expect(out.stderr).not.toContain("dg-bad-key-for-cli");
  });

  it("bad usage: exit 2 with the usage text", async () => {
    const a = io();
    expect(await runTranscribe([], a.sinks, { env })).toBe(2);
    expect(a.out.stderr).toContain("Usage: atom transcribe");
    const b = io();
    expect(await runTranscribe([clip("jfk.wav"), "--language", "Elvish!"], b.sinks, { env })).toBe(2);
    expect(b.out.stderr).toContain("not a language code");
    const c = io();
    expect(await runTranscribe([clip("jfk.wav"), "--fast"], c.sinks, { env })).toBe(2);
    expect(c.out.stderr).toContain("Unknown option --fast");
  });
});
