import crypto from "node:crypto";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Ai, createAi, voiceKeySource } from "../../src/ai/index.ts";
import { registerAiStatus } from "../../src/ai/status.ts";
import { userOwner } from "../../src/ai/vault.ts";
import type { Bot, StatusContributor } from "../../src/bot/types.ts";
import { loadConfig } from "../../src/config.ts";
import type { ChatFile, Messenger, Platform } from "../../src/core/ports.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { REDACT_PATHS } from "../../src/observability/logger.ts";
import {
  createVoiceNotes,
  DeepgramClientCache,
  VOICE_MESSAGES,
  type VoiceResult,
} from "../../src/voice/index.ts";
import {
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("voice-keys: ../shared/corpus/audio is missing; these tests are skipped");

/** The key the fake Deepgram accepts: set as a workspace key in the vault. */
const WORKSPACE_KEY = "dg-workspace-key-000000000000wsk1";
/** A key the fake refuses. */
const ENV_WRONG_KEY = "dg-env-key-refused-0000000000env9";
const STORED_WRONG_KEY = "dg-stored-key-refused-00000000bad7";

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

let n = 0;
const clip = (name = "jfk.wav"): ChatFile => {
  const bytes = readCorpusClip(name);
  n++;
  return {
    id: `F${n}`,
    name,
    mimetype: "audio/wav",
    isVoiceNote: true,
    downloadUrl: `https://files.example/${n}`,
    download: async () => bytes,
  };
};
const ok = (r: VoiceResult) => {
  if (!r.ok) throw new Error(`expected a transcript, got ${r.reason}: ${r.message}`);
  return r;
};

describe.runIf(haveCorpus)(
  "voice notes with the workspace's Deepgram key (real SDK → fake /v1/listen)",
  () => {
    let fake: FakeDeepgram;
    let db: Db;
    let ai: Ai;
    let log: ReturnType<typeof captureLogger>;
    const sent: { userId: string; text: string }[] = [];
    const masterKey = crypto.randomBytes(32);

    const setup = (env: Record<string, string>) => {
      const config = loadConfig({ ATOM_DATA_DIR: "/nonexistent/atom-voice-keys", ...env });
      const messengers = new Map<Platform, Messenger>([
        [
          "slack",
          {
            platform: "slack",
            send: async (target, reply) => {
              sent.push({ userId: target.userId ?? "", text: reply.text });
              return { messageId: "1" };
            },
          },
        ],
      ]);
      const a = createAi({ config, db, logger: log.logger, masterKey: () => masterKey, messengers });
      const voice = createVoiceNotes({ config, db, logger: log.logger, keys: voiceKeySource(a) });
      return { ai: a, voice, config };
    };

    beforeAll(async () => {
      fake = await startFakeDeepgram({ apiKey: WORKSPACE_KEY });
      registerCorpusClips(fake);
      db = await openPglite("memory://");
      await migrate(db);
    });
    afterAll(async () => {
      await fake?.close();
      await db?.close();
    });
    beforeEach(() => {
      fake.reset();
      sent.length = 0;
      log = captureLogger();
    });

    it("a workspace key in the vault is the one Deepgram receives (not DEEPGRAM_API_KEY); audio minutes are counted and shown in status", async () => {
      const s = setup({ DEEPGRAM_API_KEY: ENV_WRONG_KEY, DEEPGRAM_API_URL: fake.url });
      ai = s.ai;
      await ai.vault.set({
        tenantId: "T1",
        provider: "deepgram",
        apiKey: WORKSPACE_KEY,
        setBy: "slack:UADMIN",
      });

      const r = ok(await s.voice.transcribe(clip(), { tenantId: "T1", user: userOwner("slack", "U1") }));
      expect(r.transcript).toMatch(/ask not what your country can do for you/);
      expect(fake.calls.map((c) => c.authorization)).toEqual([`Token ${WORKSPACE_KEY}`]);
      ok(await s.voice.transcribe(clip("counting-one-to-five.m4a"), { tenantId: "T1" }));

      const usage = await ai.vault.store.usage("T1");
      expect(usage).toEqual([
        expect.objectContaining({ provider: "deepgram", calls: 2, inputTokens: 0, outputTokens: 0 }),
      ]);
      expect(usage[0]!.audioSeconds).toBeCloseTo(11 + 6.44, 5);
      // Another workspace has no key of its own: the environment's key is used (the fake refuses it),
      // and nothing is counted for a failed transcription.
      const other = await s.voice.transcribe(clip(), { tenantId: "T2" });
      expect(other).toMatchObject({ ok: false, message: VOICE_MESSAGES.transcription.unauthorized });
      expect(fake.calls.at(-1)?.authorization).toBe(`Token ${ENV_WRONG_KEY}`);
      expect(await ai.vault.store.usage("T2")).toEqual([]);

      // `status` shows the audio minutes of the month.
      let contributor: StatusContributor | undefined;
      registerAiStatus(
        { addStatusContributor: (fn: StatusContributor) => (contributor = fn) } as unknown as Bot,
        ai,
        s.config,
      );
      const lines = await contributor!("T1");
      expect(lines).toContain("AI usage this month, deepgram: 2 calls, 0 tokens, 0.3 audio minutes");

      const logged = log.lines.join("");
      expect(logged).toContain('"keyScope":"workspace"');
      for (const k of [WORKSPACE_KEY, ENV_WRONG_KEY]) expect(logged).not.toContain(k);
    });

    it("a person's own key wins over the workspace's, and a base URL from the vault is used", async () => {
      const s = setup({}); // no DEEPGRAM_API_KEY and no DEEPGRAM_API_URL: only the vault
      expect(s.voice.enabled).toBe(true);
      const none = await s.voice.transcribe(clip(), { tenantId: "T5" });
      expect(none).toMatchObject({ ok: false, reason: "disabled" });
      await s.ai.vault.set({
        tenantId: "T5",
        provider: "deepgram",
        apiKey: STORED_WRONG_KEY,
        setBy: "slack:UADMIN",
      });
      await s.ai.vault.setBaseUrl({
        tenantId: "T5",
        provider: "deepgram",
        baseUrl: fake.url,
        setBy: "slack:UADMIN",
      });
      await s.ai.vault.set({
        tenantId: "T5",
        provider: "deepgram",
        apiKey: WORKSPACE_KEY,
        owner: userOwner("slack", "U7"),
        setBy: "slack:U7",
      });
      ok(await s.voice.transcribe(clip(), { tenantId: "T5", user: userOwner("slack", "U7") }));
      expect(fake.calls.map((c) => c.authorization)).toEqual([`Token ${WORKSPACE_KEY}`]);
    });

    it("Deepgram refusing a workspace key: the admin is told once, the server key takes over, no key in logs", async () => {
      const s = setup({ DEEPGRAM_API_KEY: WORKSPACE_KEY, DEEPGRAM_API_URL: fake.url });
      await s.ai.vault.set({
        tenantId: "T3",
        provider: "deepgram",
        apiKey: STORED_WRONG_KEY,
        setBy: "slack:UADMIN",
      });

      ok(await s.voice.transcribe(clip(), { tenantId: "T3" }));
      expect(fake.calls.map((c) => [c.authorization, c.status])).toEqual([
        [`Token ${STORED_WRONG_KEY}`, 401],
        [`Token ${WORKSPACE_KEY}`, 200],
      ]);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.userId).toBe("UADMIN");
      expect(sent[0]!.text).toMatch(/Deepgram key ending in …bad7 was refused/);
      expect(sent[0]!.text).toMatch(/settings/);
      const row = await s.ai.vault.store.get("T3", "", "deepgram");
      expect(row?.invalidAt).toBeInstanceOf(Date);

      // The refused key is not tried again until replaced; nobody is told twice.
      ok(await s.voice.transcribe(clip("counting-one-to-five.m4a"), { tenantId: "T3" }));
      expect(fake.calls.slice(2).map((c) => c.authorization)).toEqual([`Token ${WORKSPACE_KEY}`]);
      expect(sent).toHaveLength(1);

      const logged = log.lines.join("") + sent.map((m) => m.text).join("");
      expect(logged).toContain("Deepgram refused a stored key");
      expect(logged).not.toContain(STORED_WRONG_KEY);
      expect(logged).not.toContain(WORKSPACE_KEY);
    });

    it("a refused workspace key with no server key → the refused-key reply, the admin told once", async () => {
      const s = setup({ DEEPGRAM_API_URL: fake.url });
      await s.ai.vault.set({
        tenantId: "T4",
        provider: "deepgram",
        apiKey: STORED_WRONG_KEY,
        setBy: "slack:UADMIN",
      });
      const r = await s.voice.transcribe(clip(), { tenantId: "T4" });
      expect(r).toEqual({
        ok: false,
        reason: "transcription_failed",
        message: VOICE_MESSAGES.transcription.stored_key_refused,
      });
      expect(sent).toHaveLength(1);
      // Next voice note: the refused key is skipped, so voice is off for this workspace until replaced.
      const again = await s.voice.transcribe(clip(), { tenantId: "T4" });
      expect(again).toMatchObject({ ok: false, reason: "disabled" });
      expect(fake.calls).toHaveLength(1);
      expect(sent).toHaveLength(1);
      expect(await s.ai.vault.store.usage("T4")).toEqual([]);
      expect(log.lines.join("")).not.toContain(STORED_WRONG_KEY);
    });

    it("one Deepgram client per key and base URL, bounded (least recently used dropped)", async () => {
      const cache = new DeepgramClientCache({ max: 2 });
      const a = cache.get({ apiKey: WORKSPACE_KEY, baseUrl: fake.url });
      expect(cache.get({ apiKey: WORKSPACE_KEY, baseUrl: fake.url })).toBe(a);
      expect(cache.get({ apiKey: WORKSPACE_KEY, baseUrl: `${fake.url}/proxy` })).not.toBe(a);
      cache.get({ apiKey: STORED_WRONG_KEY });
      expect(cache.size).toBe(2);
      // The cached client really transcribes with its key.
      const t = await cache
        .get({ apiKey: WORKSPACE_KEY, baseUrl: fake.url })
        .transcribe(readCorpusClip("jfk.wav"), { contentType: "audio/wav" });
      expect(t.durationSeconds).toBe(11);
      expect(fake.calls.map((c) => c.authorization)).toEqual([`Token ${WORKSPACE_KEY}`]);
    });
  },
);
