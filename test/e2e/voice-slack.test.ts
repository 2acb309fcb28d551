/**
 * End to end: `atom serve` with Slack and Deepgram configured. A Slack voice clip (a `file_share`
 * message whose file has `subtype: "slack_audio"` and claims `video/mp4`) is downloaded once with
 * the bot token from the fake Slack, sent once to the fake Deepgram `/v1/listen` (real SDK) with an
 * audio content type, and the transcript and the answer appear in the clip's thread. The same file
 * posted as an ordinary `demo.mp4` video is not transcribed, and a retried delivery is transcribed once.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import { deliverEvent, eventCallback, messageEvent, nextTs, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import {
  CORPUS_CLIPS,
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "../integration/fakes/deepgram.ts";
import { FakeSlack, type FakeMessage, type FakeTeam } from "../integration/fakes/slack.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("Slack voice e2e skipped: ../shared/corpus/audio is missing");

/** Everything a posted message shows (fallback text and blocks). */
const shown = (m: FakeMessage | undefined) => `${m?.text ?? ""} ${JSON.stringify(m?.blocks ?? [])}`;

describe.skipIf(!haveCorpus)("atom serve + Slack voice notes (fake Slack, fake Deepgram)", () => {
  let slack: FakeSlack;
  let team: FakeTeam;
  let deepgram: FakeDeepgram;
  let server: RunningServer;
  let dataDir: string;
  const clipName = "counting-one-to-five.m4a";
  const transcript = CORPUS_CLIPS[clipName]!.transcript;

  beforeAll(async () => {
    slack = await FakeSlack.start();
    team = slack.addTeam({ teamId: "TVOICE" });
    slack.addUser({ id: "UASKER1", teamId: "TVOICE", email: "ana@example.com" });
    deepgram = await startFakeDeepgram();
    registerCorpusClips(deepgram);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-voice-slack-e2e-"));
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        DEEPGRAM_API_KEY: deepgram.apiKey,
        DEEPGRAM_API_URL: deepgram.url,
      }),
      { logger: process.env.VOICE_E2E_DEBUG ? createLogger("debug") : silentLogger },
    );
    // A cold start (database, memory) takes minutes when the machine is shared with other runs.
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await slack?.close();
    await deepgram?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const deliverDm = (channel: string, ts: string, files: unknown[], text = "", retryNum?: number) =>
    deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        eventId: `EvVOICE${channel}${ts.replace(".", "")}`,
        event: messageEvent({
          text,
          channel,
          channelType: "im",
          subtype: files.length ? "file_share" : undefined,
          ts,
          teamId: team.teamId,
          files,
        }),
      }),
      retryNum === undefined ? {} : { retryNum },
    );

  it("transcribes a slack_audio clip once (one download with the bot token, one Deepgram call) and answers in the thread", async () => {
    const url = slack.addFile("F0VOICE1", readCorpusClip(clipName), {
      mimetype: "video/mp4",
      name: "audio_message_7c1d.mp4",
      teamId: team.teamId,
    });
    const file = {
      id: "F0VOICE1",
      name: "audio_message_7c1d.mp4",
      subtype: "slack_audio",
      mimetype: "video/mp4",
      filetype: "mp4",
      url_private_download: url,
    };
    const channel = "DVOICE01";
    const ts = nextTs();
    const r = await deliverDm(channel, ts, [file]);
    expect(r.status).toBe(200);
    await slack.waitFor(() => slack.posted(channel).length >= 2, 30_000, "transcript and answer");

    const downloads = slack.callsOf("files.download");
    expect(downloads).toHaveLength(1);
    expect(downloads[0]!.token).toBe(team.botToken);
    expect(downloads[0]!.error).toBeUndefined();
    expect(deepgram.calls).toHaveLength(1);
    expect(deepgram.calls[0]!.contentType).toBe("audio/mp4");
    expect(deepgram.calls[0]!.authorization).toBe(`Token ${deepgram.apiKey}`);
    expect(deepgram.calls[0]!.query).toMatchObject({
      model: "nova-3",
      smart_format: "true",
      punctuate: "true",
    });

    const [quote, answer] = slack.posted(channel);
    expect(quote!.threadTs).toBe(ts);
    expect(answer!.threadTs).toBe(ts);
    expect(quote!.token).toBe(team.botToken);
    // The transcript is quoted with its duration; the answer is a different message.
    expect(shown(quote)).toContain(transcript);
    expect(shown(quote)).toContain("0:06");
    // Speaker shown: in a DM Atom knows the asker's e-mail.
    expect(shown(quote)).toContain("ana@example.com");
    expect(shown(answer)).not.toContain("🎙️");

    // A retried delivery of the same event (X-Slack-Retry-Num) transcribes nothing again.
    const retry = await deliverDm(channel, ts, [file], "", 1);
    expect(retry.status).toBe(200);
    await server.atom.jobs.drain();
    expect(slack.callsOf("files.download")).toHaveLength(1);
    expect(deepgram.calls).toHaveLength(1);
    expect(slack.posted(channel)).toHaveLength(2);

    // The transcript was handled as if it had been typed: the same text typed gets the same answer.
    const typedChannel = "DVOICE02";
    await deliverDm(typedChannel, nextTs(), [], transcript);
    await slack.waitFor(() => slack.posted(typedChannel).length >= 1, 30_000, "typed answer");
    expect(slack.posted(typedChannel)[0]!.text).toBe(answer!.text);
  });

  it("the same clip as an ordinary demo.mp4 video (no slack_audio subtype) is not transcribed", async () => {
    const before = { downloads: slack.callsOf("files.download").length, deepgram: deepgram.calls.length };
    const url = slack.addFile("F0DEMO01", readCorpusClip(clipName), {
      mimetype: "video/mp4",
      name: "demo.mp4",
      teamId: team.teamId,
    });
    const channel = "DVOICE03";
    const ts = nextTs();
    const r = await deliverDm(channel, ts, [
      { id: "F0DEMO01", name: "demo.mp4", mimetype: "video/mp4", filetype: "mp4", url_private_download: url },
    ]);
    expect(r.status).toBe(200);
    // Wait until the worker has finished with the event (the drain signal), whatever it replied.
    await server.atom.jobs.drain();
    const row = await server.atom.db.query<{ status: string }>(
      "SELECT status FROM jobs WHERE queue = 'inbound' AND job_key = $1",
      [`msg:${channel}:${ts}`],
    );
    expect(row.rows.map((r) => r.status)).toEqual(["done"]);
    expect(slack.callsOf("files.download")).toHaveLength(before.downloads);
    expect(deepgram.calls).toHaveLength(before.deepgram);
    for (const m of slack.posted(channel)) expect(shown(m)).not.toContain(transcript);
  });
});
