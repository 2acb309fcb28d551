import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ChatFile } from "../../src/core/ports.ts";
import {
  formatClock,
  formatMegabytes,
  formatSpan,
  formatTranscriptQuote,
  isVoiceNote,
  localAudioFile,
  parseVoiceLanguage,
  transcriptQuoteBlocks,
} from "../../src/voice/index.ts";

const file = (f: Partial<ChatFile>): ChatFile => ({ id: "F1", name: "x", ...f });
/** A vendor download descriptor as chat platforms send for shared files (here: Teams'). */
const DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info";

describe("isVoiceNote", () => {
  it("the adapter's verdict decides: a flagged clip is a voice note even when the MIME type says video", () => {
    // What the Slack adapter sends for a slack_audio clip.
    expect(
      isVoiceNote(
        file({
          name: "audio_message_7c1d.mp4",
          subtype: "slack_audio",
          mimetype: "video/mp4",
          filetype: "mp4",
          isVoiceNote: true,
        }),
      ),
    ).toBe(true);
    expect(isVoiceNote(file({ name: "audio_message.webm", mimetype: "video/webm", isVoiceNote: true }))).toBe(
      true,
    );
    // A platform subtype alone decides nothing in voice/ (platform rules live in the adapters)…
    expect(
      isVoiceNote(file({ name: "audio_message.mp4", subtype: "slack_audio", mimetype: "video/mp4" })),
    ).toBe(false);
    // …and an adapter's "no" wins over the generic rules.
    expect(isVoiceNote(file({ name: "ringtone.mp3", mimetype: "audio/mpeg", isVoiceNote: false }))).toBe(
      false,
    );
  });

  it("an ordinary video without slack_audio is not a voice note", () => {
    expect(isVoiceNote(file({ name: "demo.mp4", mimetype: "video/mp4", filetype: "mp4" }))).toBe(false);
    expect(isVoiceNote(file({ name: "clip.webm", mimetype: "video/webm", filetype: "webm" }))).toBe(false);
  });

  it("any audio/* MIME type is a voice note", () => {
    for (const m of ["audio/mpeg", "audio/x-m4a", "audio/wav", "audio/ogg", "Audio/WebM"]) {
      expect(isVoiceNote(file({ mimetype: m }))).toBe(true);
    }
  });

  it("a platform's download descriptor decides nothing by itself: the adapter's flag does", () => {
    // What the Teams adapter sends for a shared m4a recording and for a shared document.
    expect(
      isVoiceNote(
        file({ name: "Recording.m4a", filetype: "m4a", mimetype: DOWNLOAD_INFO, isVoiceNote: true }),
      ),
    ).toBe(true);
    expect(
      isVoiceNote(file({ name: "Plan.docx", filetype: "docx", mimetype: DOWNLOAD_INFO, isVoiceNote: false })),
    ).toBe(false);
    // Without the adapter's verdict, a descriptor MIME type is not audio.
    expect(isVoiceNote(file({ name: "Recording.m4a", filetype: "m4a", mimetype: DOWNLOAD_INFO }))).toBe(
      false,
    );
  });

  it("documents and images are not voice notes; untyped audio-only extensions are", () => {
    expect(isVoiceNote(file({ name: "report.pdf", mimetype: "application/pdf" }))).toBe(false);
    expect(isVoiceNote(file({ name: "photo.png", mimetype: "image/png" }))).toBe(false);
    expect(isVoiceNote(file({ name: "memo.m4a" }))).toBe(true);
    expect(isVoiceNote(file({ name: "movie.mp4" }))).toBe(false);
    expect(isVoiceNote(file({ name: "m4a.txt", mimetype: "text/plain" }))).toBe(false);
  });
});

describe("reply formatting", () => {
  it("sizes, spans and clock durations", () => {
    expect(formatMegabytes(31 * 1024 * 1024)).toBe("31 MB");
    expect(formatMegabytes(25 * 1024 * 1024)).toBe("25 MB");
    expect(formatMegabytes(2.5 * 1024 * 1024)).toBe("2.5 MB");
    expect(formatSpan(1)).toBe("1 second");
    expect(formatSpan(45)).toBe("45 seconds");
    expect(formatSpan(600)).toBe("10 minutes");
    expect(formatClock(11)).toBe("0:11");
    expect(formatClock(4.08)).toBe("0:04");
    expect(formatClock(3725)).toBe("1:02:05");
  });

  it("the transcript quote shows speaker and duration and quotes each line", () => {
    const r = {
      ok: true as const,
      transcript: "Remind me every Monday.\nThanks!",
      durationSeconds: 4.08,
      confidence: 0.9,
      speaker: "Ana",
    };
    expect(formatTranscriptQuote(r)).toBe(
      "🎙️ Voice note from Ana (0:04)\n> Remind me every Monday.\n> Thanks!",
    );
    expect(formatTranscriptQuote({ ...r, speaker: undefined, transcript: "Hi." })).toBe(
      "🎙️ Voice note (0:04)\n> Hi.",
    );
    expect(transcriptQuoteBlocks(r)).toEqual([
      { type: "text", text: "🎙️ Voice note from Ana (0:04)" },
      { type: "quote", text: "Remind me every Monday.\nThanks!" },
    ]);
  });
});

describe("voice language values", () => {
  it("accepts codes and detect; rejects anything else", () => {
    expect(parseVoiceLanguage("de")).toEqual({ mode: "code", code: "de" });
    expect(parseVoiceLanguage("pt-BR")).toEqual({ mode: "code", code: "pt-BR" });
    expect(parseVoiceLanguage("detect")).toEqual({ mode: "detect" });
    expect(parseVoiceLanguage("auto")).toEqual({ mode: "detect" });
    expect(parseVoiceLanguage("German")).toBeNull();
    expect(parseVoiceLanguage("en&model=x")).toBeNull();
    expect(parseVoiceLanguage(42)).toBeNull();
  });
});

describe("localAudioFile (a path typed into atom chat)", () => {
  it("turns an existing audio path into a ChatFile that reads the bytes; other text is not a file", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-voice-"));
    const p = path.join(dir, "memo one.m4a");
    fs.writeFileSync(p, Buffer.from("not really audio"));
    try {
      const f = await localAudioFile(`"${p}"`);
      expect(f).not.toBeNull();
      expect(f!.name).toBe("memo one.m4a");
      expect(isVoiceNote(f!)).toBe(true);
      expect((await f!.download!()).toString()).toBe("not really audio");
      expect(await localAudioFile("what is our travel policy?")).toBeNull();
      expect(await localAudioFile(path.join(dir, "missing.wav"))).toBeNull();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
