import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { ChatFile, ChatMessage } from "../../src/core/ports.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import {
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "../integration/fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("voice usage e2e: ../shared/corpus/audio is missing; skipped");

const WORKSPACE_KEY = `dg-ws-${crypto.randomBytes(12).toString("hex")}Dg42`;
const ENV_KEY = "dg-env-key-not-accepted-by-the-fake0";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const chat = (text: string, p: Partial<ChatMessage> = {}): ChatMessage => ({
  platform: "slack",
  tenantId: "default",
  channelId: "D-admin",
  threadId: crypto.randomUUID(),
  messageId: crypto.randomUUID(),
  userId: "U-ADMIN",
  userEmail: "admin@example.com",
  text,
  files: [],
  isDirect: true,
  mentionsBot: true,
  visibility: "thread",
  ...p,
});

const voiceNote = (): ChatFile => {
  const bytes = readCorpusClip("jfk.wav");
  return {
    id: crypto.randomUUID(),
    name: "jfk.wav",
    mimetype: "audio/wav",
    isVoiceNote: true,
    downloadUrl: `https://files.example/${crypto.randomUUID()}`,
    download: async () => bytes,
  };
};

describe.runIf(haveCorpus)(
  "atom serve: a workspace Deepgram key transcribes and its minutes are shown",
  () => {
    let server: RunningServer;
    let fake: FakeDeepgram;
    let dataDir: string;

    beforeAll(async () => {
      fake = await startFakeDeepgram({ apiKey: WORKSPACE_KEY });
      registerCorpusClips(fake);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-voice-usage-"));
      const port = await freePort();
      server = await startServer(
        loadConfig({
          ATOM_DATA_DIR: dataDir,
          PORT: String(port),
          HOST: "127.0.0.1",
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          LOG_LEVEL: "silent",
          DEEPGRAM_API_KEY: ENV_KEY,
          DEEPGRAM_API_URL: fake.url,
        }),
        { logger: silentLogger },
      );
    }, 120_000);

    afterAll(async () => {
      await server?.close();
      await fake?.close();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("the vault key reaches Deepgram, and status and the settings page show the audio minutes", async () => {
      await server.atom.ai.vault.set({
        tenantId: "default",
        provider: "deepgram",
        apiKey: WORKSPACE_KEY,
        setBy: "slack:U-ADMIN",
      });
      const reply = await server.atom.bot.handle(chat("", { files: [voiceNote()] }));
      expect(reply.text).toContain("ask not what your country can do for you");
      expect(fake.calls.map((c) => c.authorization)).toEqual([`Token ${WORKSPACE_KEY}`]);

      const status = await server.atom.bot.handle(chat("status"));
      expect(status.text).toContain("AI usage this month, deepgram: 1 calls, 0 tokens, 0.2 audio minutes");

      const settings = await server.atom.bot.handle(chat("settings", { userIsAdmin: true }));
      const link = /http:\/\/127\.0\.0\.1:\d+\/settings\?link=\S+/.exec(settings.text)?.[0];
      expect(link).toBeDefined();
      const opened = await fetch(link!, { redirect: "manual" });
      expect(opened.status).toBe(303);
      const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0]!;
      const page = await fetch(`${server.url}/settings`, { headers: { cookie } });
      expect(page.status).toBe(200);
      const html = await page.text();
      const usage = /<section id="usage">([\s\S]*?)<\/section>/.exec(html)?.[1] ?? "";
      expect(usage).toMatch(/deepgram[\s\S]*?<td>0\.2<\/td>/);
      expect(html).not.toContain(WORKSPACE_KEY);
    });
  },
);
