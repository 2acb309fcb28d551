import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { ChatFile } from "../../src/core/ports.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { createVoiceNotes } from "../../src/voice/index.ts";
import { tempDir } from "../helpers/memory.ts";
import {
  corpusAudioAvailable,
  type FakeDeepgram,
  readCorpusClip,
  registerCorpusClips,
  startFakeDeepgram,
} from "./fakes/deepgram.ts";
import { confirmValue, openWorkflowRig, type WorkflowRig } from "./workflow-harness.ts";

const haveCorpus = corpusAudioAvailable();
if (!haveCorpus) console.warn("workflow voice: ../shared/corpus/audio is missing; this test is skipped");

describe.skipIf(!haveCorpus)("a workflow from a voice note (real audio, fake Deepgram)", () => {
  let dg: FakeDeepgram;
  let rig: WorkflowRig;

  beforeAll(async () => {
    dg = await startFakeDeepgram();
    registerCorpusClips(dg);
    const config = loadConfig({
      ATOM_DATA_DIR: tempDir(),
      DEEPGRAM_API_KEY: dg.apiKey,
      DEEPGRAM_API_URL: dg.url,
    });
    rig = await openWorkflowRig({
      start: new Date("2026-12-03T10:00:00Z"),
      voice: (db) => createVoiceNotes({ config, db, logger: createLogger("silent") }),
    });
  });
  afterAll(async () => {
    await rig?.close();
    await dg?.close();
  });

  it("remind-monday-9am.m4a → transcript → a plan for Monday 09:00 in the person's zone → Confirm → it runs then", async () => {
    const bytes = readCorpusClip("remind-monday-9am.m4a");
    const file: ChatFile = {
      id: "FVOICE1",
      name: "audio_message.m4a",
      mimetype: "video/mp4",
      subtype: "slack_audio",
      filetype: "m4a",
      isVoiceNote: true,
      size: bytes.length,
      downloadUrl: "mem://FVOICE1",
    };
    rig.chat.files.set("mem://FVOICE1", bytes);
    const plan = await rig.say({
      text: "",
      files: [file],
      tz: "Europe/Berlin",
      direct: true,
      thread: "T-voice",
    });
    expect(dg.calls).toHaveLength(1);
    expect(dg.calls[0]!.contentType).toBe("audio/mp4");
    const transcript = rig.chat.replies.find((r) => r.reply.intent === "transcript");
    expect(transcript?.reply.text).toContain("Remind me every Monday at 9 AM to review the sales dashboard.");
    expect(plan.intent).toBe("workflow.plan");
    expect(plan.text).toContain("Here is the plan for “Reminder: review the sales dashboard”:");
    expect(plan.text).toContain(
      "When: Every Monday at 09:00 (Europe/Berlin). Next: Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    );

    const ok = await rig.press("workflow:confirm", confirmValue(plan));
    expect(ok?.text).toMatch(
      /^Confirmed — “Reminder: review the sales dashboard” is on\. Next run: Mon 7 Dec 09:00 \(Europe\/Berlin\)\./,
    );
    const wf = (await rig.workflows.store.list("default"))[0]!;
    expect(wf.definition.trigger).toEqual({ type: "cron", expr: "0 9 * * 1", tz: "Europe/Berlin" });
    expect(wf.nextRunAt?.toISOString()).toBe("2026-12-07T08:00:00.000Z");

    await rig.tickAt("2026-12-07T08:00:02Z");
    expect(rig.messenger.posts).toEqual([
      {
        target: { platform: "console", tenantId: "default", channelId: "C1", threadId: "T-voice" },
        text: "⏰ Reminder: review the sales dashboard",
      },
    ]);
  });
});
