/**
 * End to end: `atom serve` with the Teams bot (emulator mode against the fake Bot Connector) and
 * Deepgram configured. An m4a file attachment (`application/vnd.microsoft.teams.file.download.info`)
 * is downloaded from its pre-authenticated URL without an Authorization header, transcribed once
 * through the fake Deepgram `/v1/listen` (real SDK), and the transcript and the answer are posted
 * in the conversation; the same activity delivered again stops at the door (no second job) and is
 * not transcribed a second time. Tests wait on the job worker's drain signal.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { fileAttachment, postActivity, TEST_USER, teamsMessage } from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "../integration/fakes/botframework.ts";
import {
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "../integration/fakes/deepgram.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("Teams voice e2e skipped: ../shared/corpus/audio is missing");

/** Every piece of text in an outgoing activity (text, summary, Adaptive Card text blocks). */
const shown = (body: Record<string, unknown> | undefined) =>
  JSON.stringify([body?.text, body?.summary, body?.attachments]);

describe.skipIf(!haveCorpus)("atom serve + Teams voice notes (fake Bot Connector, fake Deepgram)", () => {
  let connector: FakeBotConnector;
  let deepgram: FakeDeepgram;
  let server: RunningServer;
  let dataDir: string;
  const clipName = "remind-monday-9am.m4a";
  const transcript = CORPUS_CLIPS[clipName]!.transcript;

  beforeAll(async () => {
    connector = await startFakeBotConnector();
    connector.addMember({
      id: TEST_USER.id,
      name: TEST_USER.name,
      aadObjectId: TEST_USER.aadObjectId,
      email: TEST_USER.email,
    });
    deepgram = await startFakeDeepgram();
    registerCorpusClips(deepgram);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-voice-teams-e2e-"));
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        DEEPGRAM_API_KEY: deepgram.apiKey,
        DEEPGRAM_API_URL: deepgram.url,
      }),
      { logger: process.env.VOICE_E2E_DEBUG ? createLogger("debug") : silentLogger },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await connector?.close();
    await deepgram?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("transcribes an m4a file attachment once, posts the transcript and the answer; a redelivery is ignored", async () => {
    const downloadUrl = connector.addFile("Recording 2026-11-30.m4a", readCorpusClip(clipName), "audio/mp4");
    const activity = teamsMessage({
      serviceUrl: connector.url,
      kind: "personal",
      text: "",
      attachments: [fileAttachment("Recording 2026-11-30.m4a", downloadUrl, "m4a")],
    });
    const conversationId = (activity.conversation as { id: string }).id;
    const res = await postActivity(server.url, activity);
    expect(res.status).toBe(200);
    await server.atom.jobs.drain({ timeoutMs: 30_000 });
    expect(connector.messages()).toHaveLength(2);

    const downloads = connector.calls.filter((c) => c.kind === "file");
    expect(downloads).toHaveLength(1);
    expect(downloads[0]!.headers.authorization).toBeUndefined();
    expect(deepgram.calls).toHaveLength(1);
    expect(deepgram.calls[0]!.contentType).toBe("audio/mp4");
    expect(deepgram.calls[0]!.status).toBe(200);

    const [quote, answer] = connector.messages();
    for (const m of [quote!, answer!]) {
      expect(m.conversationId).toBe(conversationId);
      expect(m.activityId).toBe(activity.id);
    }
    expect(shown(quote!.body)).toContain(transcript);
    expect(shown(quote!.body)).toContain("0:04");
    // Speaker shown: in a personal chat Atom knows the asker's e-mail.
    expect(shown(quote!.body)).toContain(TEST_USER.email);
    expect(shown(answer!.body)).not.toContain("🎙️");

    // Teams redelivers the same activity (same id): nothing is downloaded, transcribed or posted again.
    const jobs = await server.atom.jobs.store.list({ queue: "inbound" });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain();
    // The redelivery stopped at the door: no second job.
    expect(await server.atom.jobs.store.list({ queue: "inbound" })).toHaveLength(jobs.length);
    expect(connector.calls.filter((c) => c.kind === "file")).toHaveLength(1);
    expect(deepgram.calls).toHaveLength(1);
    expect(connector.messages()).toHaveLength(2);
  });

  it("a shared document (not audio) is not sent to Deepgram", async () => {
    connector.reset();
    const before = deepgram.calls.length;
    const docUrl = connector.addFile(
      "Plan.docx",
      Buffer.from("PK\u0003\u0004 not audio"),
      "application/octet-stream",
    );
    const activity = teamsMessage({
      serviceUrl: connector.url,
      kind: "personal",
      text: "help",
      attachments: [fileAttachment("Plan.docx", docUrl, "docx")],
    });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain({ timeoutMs: 30_000 });
    expect(connector.messages()).toHaveLength(1);
    expect(deepgram.calls).toHaveLength(before);
    expect(connector.calls.filter((c) => c.kind === "file")).toHaveLength(0);
  });
});
