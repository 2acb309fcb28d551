import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { ChatFile } from "../../src/core/ports.ts";
import { loadConfig } from "../../src/config.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { REDACT_PATHS } from "../../src/observability/logger.ts";
import {
  createVoiceNotes,
  setVoiceLanguage,
  sniffAudio,
  type VoiceNotes,
  type VoiceResult,
} from "../../src/voice/index.ts";
import {
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("voice: ../shared/corpus/audio is missing; these tests are skipped");

/** A logger whose JSON lines are kept for assertions (with the production redaction paths). */
function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return {
    logger: pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, stream),
    lines,
  };
}

/** A ChatFile served from memory, counting downloads. */
function memFile(bytes: Buffer, f: Partial<ChatFile> = {}) {
  const state = { downloads: 0 };
  const file: ChatFile = {
    id: f.id ?? `F${Math.random().toString(36).slice(2, 10)}`,
    name: "audio_message.mp4",
    subtype: "slack_audio",
    mimetype: "video/mp4",
    filetype: "mp4",
    // As the Slack adapter flags a slack_audio clip.
    isVoiceNote: true,
    downloadUrl: `https://files.example/${Math.random().toString(36).slice(2)}`,
    ...f,
    download: async () => {
      state.downloads++;
      return bytes;
    },
  };
  return { file, state };
}

const failed = (r: VoiceResult) => {
  if (r.ok) throw new Error(`expected a failure, got transcript ${JSON.stringify(r.transcript)}`);
  return r;
};
const succeeded = (r: VoiceResult) => {
  if (!r.ok) throw new Error(`expected a transcript, got ${r.reason}: ${r.message}`);
  return r;
};

describe.runIf(haveCorpus)("VoiceNotes (real Deepgram SDK → fake /v1/listen, PGlite settings)", () => {
  let fake: FakeDeepgram;
  let db: Db;
  let voice: VoiceNotes;
  let log: ReturnType<typeof captureLogger>;

  const make = (env: Record<string, string> = {}) =>
    createVoiceNotes({
      config: loadConfig({
        ATOM_DATA_DIR: "/nonexistent/atom-voice-test",
        DEEPGRAM_API_KEY: fake.apiKey,
        DEEPGRAM_API_URL: fake.url,
        ...env,
      }),
      db,
      logger: log.logger,
    });

  beforeAll(async () => {
    fake = await startFakeDeepgram();
    registerCorpusClips(fake);
    db = await openPglite("memory://");
    await migrate(db);
  });
  afterAll(async () => {
    await fake.close();
    await db.close();
  });
  beforeEach(() => {
    fake.reset();
    log = captureLogger();
    voice = make();
  });

  it.each(Object.keys(CORPUS_CLIPS))("transcribes %s", async (name) => {
    const { file, state } = memFile(readCorpusClip(name));
    const r = succeeded(await voice.transcribe(file, { tenantId: "t-clips", speaker: "Ana" }));
    expect(r.transcript).toBe(CORPUS_CLIPS[name]!.transcript);
    expect(r.durationSeconds).toBe(CORPUS_CLIPS[name]!.duration);
    expect(r.confidence).toBeGreaterThan(0.5);
    expect(r.speaker).toBe("Ana");
    expect(state.downloads).toBe(1);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.contentType).toMatch(/^audio\/(wav|mp4|webm)$/);
    // The log says what happened, but holds neither the transcript nor the audio.
    const logged = log.lines.join("");
    expect(logged).toContain("voice note transcribed");
    expect(logged).not.toContain(CORPUS_CLIPS[name]!.transcript);
  });

  it("a Slack voice clip sent as video/mp4 is sent to Deepgram as audio/mp4", async () => {
    const { file } = memFile(readCorpusClip("remind-monday-9am.m4a"), { mimetype: "video/mp4" });
    expect(voice.isVoiceNote(file)).toBe(true);
    succeeded(await voice.transcribe(file, { tenantId: "t1" }));
    expect(fake.calls[0]!.contentType).toBe("audio/mp4");
  });

  it("an HTML login page or random bytes are rejected without calling Deepgram", async () => {
    const html = Buffer.from(
      "<!DOCTYPE html>\n<html><head><title>Sign in to Slack</title></head><body>Sign in</body></html>",
    );
    const r1 = failed(await voice.transcribe(memFile(html).file, { tenantId: "t1" }));
    expect(r1.reason).toBe("not_audio");
    expect(r1.message).toMatch(/^I couldn't open that audio/);
    const junk = Buffer.alloc(50_000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) % 251;
    const r2 = failed(await voice.transcribe(memFile(junk).file, { tenantId: "t1" }));
    expect(r2.reason).toBe("not_audio");
    expect(fake.calls).toHaveLength(0);
    expect(log.lines.join("")).toContain("<!DOCTYPE html>");
  });

  it("size limit: a declared size over the limit is refused before download; a large download after it", async () => {
    const small = make({ VOICE_MAX_BYTES: String(100 * 1024) });
    const clip = readCorpusClip("jfk.wav"); // 352078 bytes
    const declared = memFile(clip, { size: 31 * 1024 * 1024 });
    const r1 = failed(await voice.transcribe(declared.file, { tenantId: "t1" }));
    expect(r1).toEqual({
      ok: false,
      reason: "too_large",
      message: "That voice note is 31 MB; the limit is 25 MB.",
    });
    expect(declared.state.downloads).toBe(0);

    const undeclared = memFile(clip);
    const r2 = failed(await small.transcribe(undeclared.file, { tenantId: "t1" }));
    expect(r2.reason).toBe("too_large");
    expect(r2.message).toBe("That voice note is 0.3 MB; the limit is 0.1 MB.");
    expect(undeclared.state.downloads).toBe(1);
    expect(fake.calls).toHaveLength(0);
  });

  it("duration limit: from the platform before download, from the container after it", async () => {
    const short = make({ VOICE_MAX_SECONDS: "5" });
    const declared = memFile(readCorpusClip("remind-monday-9am.m4a"), { durationSeconds: 900 });
    const r1 = failed(await short.transcribe(declared.file, { tenantId: "t1" }));
    expect(r1.reason).toBe("too_long");
    expect(r1.message).toBe("That voice note is 15 minutes long; the limit is 5 seconds.");
    expect(declared.state.downloads).toBe(0);
    const r2 = failed(await short.transcribe(memFile(readCorpusClip("jfk.wav")).file, { tenantId: "t1" }));
    expect(r2.message).toBe("That voice note is 11 seconds long; the limit is 5 seconds.");
    // 4.08 s fits.
    succeeded(
      await short.transcribe(memFile(readCorpusClip("remind-monday-9am.webm")).file, { tenantId: "t1" }),
    );
    expect(fake.calls).toHaveLength(1);
  });

  it("no key: disabled with a reply that says which setting enables voice; nothing downloaded", async () => {
    const off = createVoiceNotes({
      config: loadConfig({ ATOM_DATA_DIR: "/nonexistent/atom-voice-test" }),
      db,
      logger: log.logger,
    });
    expect(off.enabled).toBe(false);
    expect(voice.enabled).toBe(true);
    const { file, state } = memFile(readCorpusClip("jfk.wav"));
    const r = failed(await off.transcribe(file, { tenantId: "t1" }));
    expect(r).toEqual({
      ok: false,
      reason: "disabled",
      message: "Voice notes are turned off: an admin can enable them by setting DEEPGRAM_API_KEY.",
    });
    expect(state.downloads).toBe(0);
  });

  it("a failed or missing download becomes download_failed, and the token in the error is not logged", async () => {
    const broken: ChatFile = {
      id: "F-broken",
      name: "a.m4a",
      mimetype: "audio/mp4",
      download: async () => {
        throw new Error(
          "GET https://files.slack.com/x failed with Authorization: Bearer xoxb-1234-5678-abcdefgh",
        );
      },
    };
    const r = failed(await voice.transcribe(broken, { tenantId: "t1" }));
    expect(r.reason).toBe("download_failed");
    expect(r.message).toBe("I couldn't download that voice note. Please try sending it again.");
    expect(log.lines.join("")).not.toContain("xoxb-1234-5678-abcdefgh");
    const r2 = failed(
      await voice.transcribe({ id: "F-none", name: "a.m4a", mimetype: "audio/mp4" }, { tenantId: "t1" }),
    );
    expect(r2.reason).toBe("download_failed");
  });

  it("Deepgram refusing the key → a clear reply without the key; 400 and 5xx → their replies", async () => {
    const wrong = make({ DEEPGRAM_API_KEY: "dg-refused-key-zzzzzzzz" });
    const r = failed(await wrong.transcribe(memFile(readCorpusClip("jfk.wav")).file, { tenantId: "t1" }));
    expect(r).toEqual({
      ok: false,
      reason: "transcription_failed",
      message: "Voice transcription isn't configured correctly (the Deepgram key was refused).",
    });
    const logged = log.lines.join("");
    expect(logged).toContain('"status":401');
    expect(logged).not.toContain("dg-refused-key");

    fake.fail({ status: 400 });
    const r400 = failed(await voice.transcribe(memFile(readCorpusClip("jfk.wav")).file, { tenantId: "t1" }));
    expect(r400.message).toMatch(/Deepgram couldn't process that audio/);

    fake.fail({ status: 502, times: 5 });
    const fast = createVoiceNotes({
      config: loadConfig({ DEEPGRAM_API_KEY: fake.apiKey, DEEPGRAM_API_URL: fake.url }),
      db,
      logger: log.logger,
      transcriber: (await import("../../src/voice/deepgram.ts")).createDeepgramTranscriber({
        apiKey: fake.apiKey,
        baseUrl: fake.url,
        sleep: async () => {},
      }),
    });
    const r5 = failed(await fast.transcribe(memFile(readCorpusClip("jfk.wav")).file, { tenantId: "t1" }));
    expect(r5.message).toMatch(/unavailable right now/);
  });

  it("language per workspace: an explicit code, detection, or none", async () => {
    await setVoiceLanguage(db, "t-de", "de");
    await setVoiceLanguage(db, "t-detect", "detect");
    const clip = readCorpusClip("remind-monday-9am.wav");
    const de = succeeded(await voice.transcribe(memFile(clip).file, { tenantId: "t-de" }));
    expect(fake.calls[0]!.query.language).toBe("de");
    expect(de.language).toBe("de");
    const auto = succeeded(await voice.transcribe(memFile(clip).file, { tenantId: "t-detect" }));
    expect(fake.calls[1]!.query.detect_language).toBe("true");
    expect(fake.calls[1]!.query.language).toBeUndefined();
    expect(auto.language).toBe("en");
    succeeded(await voice.transcribe(memFile(clip).file, { tenantId: "t-unset" }));
    expect(fake.calls[2]!.query.language).toBeUndefined();
    expect(fake.calls[2]!.query.detect_language).toBeUndefined();
    // DEEPGRAM_LANGUAGE is the fallback for workspaces without a setting.
    const fr = make({ DEEPGRAM_LANGUAGE: "fr" });
    await fr.transcribe(memFile(clip).file, { tenantId: "t-unset" });
    expect(fake.calls[3]!.query.language).toBe("fr");
    await expect(setVoiceLanguage(db, "t-x", "Klingon please")).rejects.toThrow(/not a language code/);
  });

  it("the same file delivered twice (retried event) is transcribed once; concurrent duplicates share one call", async () => {
    const clip = readCorpusClip("counting-one-to-five.m4a");
    const { file, state } = memFile(clip, { id: "F0DUP", downloadUrl: "https://files.example/F0DUP" });
    const [a, b] = await Promise.all([
      voice.transcribe(file, { tenantId: "t-dup" }),
      voice.transcribe({ ...file }, { tenantId: "t-dup" }),
    ]);
    const c = await voice.transcribe({ ...file }, { tenantId: "t-dup" });
    expect(succeeded(a).transcript).toBe(CORPUS_CLIPS["counting-one-to-five.m4a"]!.transcript);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(fake.calls).toHaveLength(1);
    expect(state.downloads).toBe(1);
    // Another tenant's file with the same id is a different file.
    await voice.transcribe({ ...file }, { tenantId: "t-other" });
    expect(fake.calls).toHaveLength(2);
  });

  it("an empty transcript is a success with empty text (the bot replies that no speech was heard)", async () => {
    // One second of 16 kHz 16-bit mono silence.
    const silence = Buffer.alloc(44 + 32_000);
    silence.write("RIFF", 0, "latin1");
    silence.writeUInt32LE(36 + 32_000, 4);
    silence.write("WAVEfmt ", 8, "latin1");
    silence.writeUInt32LE(16, 16);
    silence.writeUInt16LE(1, 20);
    silence.writeUInt16LE(1, 22);
    silence.writeUInt32LE(16_000, 24);
    silence.writeUInt32LE(32_000, 28);
    silence.writeUInt16LE(2, 32);
    silence.writeUInt16LE(16, 34);
    silence.write("data", 36, "latin1");
    silence.writeUInt32LE(32_000, 40);
    fake.register(silence, { transcript: "", duration: 1 });
    expect(sniffAudio(silence)).toEqual({ format: "wav", contentType: "audio/wav", durationSeconds: 1 });
    const r = succeeded(await voice.transcribe(memFile(silence).file, { tenantId: "t1" }));
    expect(r.transcript).toBe("");
    expect(r.durationSeconds).toBe(1);
  });

  it("Teams m4a download-info attachments are voice notes and transcribe", async () => {
    const { file } = memFile(readCorpusClip("remind-monday-9am.m4a"), {
      name: "Recording.m4a",
      subtype: undefined,
      // As the Teams adapter flags a shared m4a recording.
      isVoiceNote: true,
      mimetype: "application/vnd.microsoft.teams.file.download.info",
      filetype: "m4a",
    });
    expect(voice.isVoiceNote(file)).toBe(true);
    const r = succeeded(await voice.transcribe(file, { tenantId: "t-teams" }));
    expect(r.transcript).toContain("sales dashboard");
  });
});
