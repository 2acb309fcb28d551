import type { ChatFile } from "../core/ports.ts";
import type { ReplyBlock } from "../bot/reply.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/index.ts";
import { type Logger, scrubSecrets } from "../observability/logger.ts";
import { DeepgramClientCache, type DeepgramKey, envKeySource, type VoiceKeySource } from "./keys.ts";
import { voiceNotesTotal, voiceSeconds } from "./metrics.ts";
import { getVoiceLanguage, type VoiceLanguage } from "./settings.ts";
import { type SniffedAudio, SUPPORTED_AUDIO_FORMATS, sniffAudio } from "./sniff.ts";
import { type Transcriber, type Transcription, TranscriptionError } from "./transcriber.ts";

export { createDeepgramTranscriber, fetchWithoutContentLength } from "./deepgram.ts";
export { DeepgramClientCache, type DeepgramKey, envKeySource, type VoiceKeySource } from "./keys.ts";
export { localAudioFile } from "./local.ts";
export { getVoiceLanguage, parseVoiceLanguage, setVoiceLanguage, VOICE_LANGUAGE_KEY } from "./settings.ts";
export { type SniffedAudio, SUPPORTED_AUDIO_FORMATS, sniffAudio } from "./sniff.ts";
export type { Transcriber, TranscribeOptions, Transcription, TranscriptWord } from "./transcriber.ts";
export { TranscriptionError } from "./transcriber.ts";

/** Voice notes: detection, download, checks and transcription of audio sent in chat. */
export interface VoiceNotes {
  /**
   * Platform-neutral detection: the adapter's verdict `ChatFile.isVoiceNote` decides when set
   * (platform rules such as Slack's `slack_audio` live in the adapters); otherwise any audio/*
   * MIME type; a file without a MIME type whose type/extension is audio-only (m4a, mp3, wav, ogg,
   * oga, opus, aac, flac, weba — terminal paths). An ordinary video (video/*) is NOT a voice note.
   */
  isVoiceNote(file: ChatFile): boolean;
  /**
   * Downloads via file.download(), checks the size limit (before and after download), sniffs
   * magic bytes (RIFF/WAVE, ISO-BMFF ftyp, EBML/WebM, OggS, MP3/ID3 or frame sync, FLAC, ADTS),
   * checks the duration limit when known, and transcribes through the Transcriber port in the
   * workspace's language (settings key `voice.language`). The audio stays in memory only.
   * `ctx.speaker` (optional) is echoed into the result for the transcript quote; `ctx.user`
   * (`<platform>:<user id>`) picks the person's own Deepgram key when one is stored. Never throws.
   */
  transcribe(
    file: ChatFile,
    ctx: { tenantId: string; speaker?: string; user?: string },
  ): Promise<VoiceResult>;
  /** False when no key can ever be used: no DEEPGRAM_API_KEY, no key vault, no transcriber given. */
  readonly enabled: boolean;
}

/** Why a voice note was not transcribed. */
export type VoiceFailureReason =
  | "disabled"
  | "too_large"
  | "too_long"
  | "not_audio"
  | "download_failed"
  | "transcription_failed";

/**
 * Outcome of {@link VoiceNotes.transcribe}. On failure `message` is the short user-facing reply
 * (never holds a secret). `durationSeconds` is in seconds; `confidence` 0..1; `language` is the
 * detected or configured language code when known.
 */
export type VoiceResult =
  | {
      ok: true;
      transcript: string;
      durationSeconds: number;
      confidence: number;
      speaker?: string;
      language?: string;
    }
  | { ok: false; reason: VoiceFailureReason; message: string };

type VoiceFailure = Extract<VoiceResult, { ok: false }>;
type VoiceSuccess = Extract<VoiceResult, { ok: true }>;

const AUDIO_ONLY_TYPES = new Set(["m4a", "mp3", "wav", "ogg", "oga", "opus", "aac", "flac", "weba"]);

const extensionOf = (file: ChatFile): string => {
  const type = file.filetype?.trim().toLowerCase().replace(/^\./, "");
  if (type) return type;
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(file.name ?? "");
  return m ? m[1]!.toLowerCase() : "";
};

/** See {@link VoiceNotes.isVoiceNote}; usable without a configured VoiceNotes. */
export function isVoiceNote(file: ChatFile): boolean {
  if (file.isVoiceNote !== undefined) return file.isVoiceNote;
  const mime = file.mimetype?.trim().toLowerCase() ?? "";
  if (mime.startsWith("audio/")) return true;
  if (!mime) return AUDIO_ONLY_TYPES.has(extensionOf(file));
  return false;
}

/** Formats a byte count as MB for replies: "31 MB", "2.5 MB". */
export function formatMegabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  const shown = mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10;
  return `${shown} MB`;
}

/** Formats a span in seconds for replies: "45 seconds", "1 minute", "12.5 minutes". */
export function formatSpan(seconds: number): string {
  if (seconds < 120) {
    const s = Math.round(seconds);
    return `${s} second${s === 1 ? "" : "s"}`;
  }
  const m = Math.round((seconds / 60) * 10) / 10;
  return `${m} minute${m === 1 ? "" : "s"}`;
}

/** Formats a duration as m:ss (or h:mm:ss), e.g. 11 → "0:11", 4.08 → "0:04". */
export function formatClock(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** The user-facing replies of every failure (also used by `atom transcribe`). */
export const VOICE_MESSAGES = {
  disabled: "Voice notes are turned off: an admin can enable them by setting DEEPGRAM_API_KEY.",
  /** No key for this workspace while keys can be set on the settings page. */
  disabledNoKey:
    "Voice notes are turned off for this workspace: an admin can add a Deepgram key on the settings page (type “settings”) or set DEEPGRAM_API_KEY.",
  notAudio: `I couldn't open that audio. Send a voice note or an audio file (${SUPPORTED_AUDIO_FORMATS}).`,
  downloadFailed: "I couldn't download that voice note. Please try sending it again.",
  tooLarge: (bytes: number, limit: number) =>
    `That voice note is ${formatMegabytes(bytes)}; the limit is ${formatMegabytes(limit)}.`,
  tooLong: (seconds: number, limit: number) =>
    `That voice note is ${formatSpan(seconds)} long; the limit is ${formatSpan(limit)}.`,
  transcription: {
    unauthorized: "Voice transcription isn't configured correctly (the Deepgram key was refused).",
    /** A workspace's (or person's) stored key was refused and no other key is left. */
    stored_key_refused:
      "Voice transcription isn't configured correctly (this workspace's Deepgram key was refused). An admin has been told.",
    bad_request: "Deepgram couldn't process that audio (it may be damaged or in an unsupported format).",
    rate_limited:
      "Voice transcription is busy right now (Deepgram rate limit). Please try again in a minute.",
    unavailable:
      "Voice transcription is unavailable right now (Deepgram had an error). Please try again shortly.",
    timeout: "Transcribing that voice note took too long. Please try again, or send a shorter clip.",
    network: "I couldn't reach the transcription service. Please try again shortly.",
    invalid_response: "The transcription service gave an unexpected answer. Please try again.",
  },
  noSpeech: "I couldn't hear any speech in that clip",
} as const;

/** Limits applied before any transcription. */
export interface AudioLimits {
  maxBytes: number;
  maxSeconds: number;
}

/**
 * Checks downloaded bytes: size limit, magic bytes, duration limit (sniffed or `knownSeconds`).
 * @returns the sniffed audio, or the failure to reply with.
 */
export function checkAudio(
  bytes: Buffer,
  limits: AudioLimits,
  knownSeconds?: number,
): { ok: true; audio: SniffedAudio } | VoiceFailure {
  if (bytes.length > limits.maxBytes) {
    return {
      ok: false,
      reason: "too_large",
      message: VOICE_MESSAGES.tooLarge(bytes.length, limits.maxBytes),
    };
  }
  const audio = sniffAudio(bytes);
  if (!audio) return { ok: false, reason: "not_audio", message: VOICE_MESSAGES.notAudio };
  const seconds = audio.durationSeconds ?? knownSeconds;
  if (seconds !== undefined && seconds > limits.maxSeconds) {
    return { ok: false, reason: "too_long", message: VOICE_MESSAGES.tooLong(seconds, limits.maxSeconds) };
  }
  return { ok: true, audio };
}

/** The reply for a failed transcription call. */
export function transcriptionFailure(err: unknown): VoiceFailure {
  const kind = err instanceof TranscriptionError ? err.kind : "network";
  const message =
    err instanceof TranscriptionError && err.storedKeyRefused
      ? VOICE_MESSAGES.transcription.stored_key_refused
      : VOICE_MESSAGES.transcription[kind];
  return { ok: false, reason: "transcription_failed", message };
}

/** Header line of a transcript quote: "🎙️ Voice note from Ana (0:11)". */
function quoteHeader(result: VoiceSuccess): string {
  const who = result.speaker ? ` from ${result.speaker}` : "";
  return `🎙️ Voice note${who} (${formatClock(result.durationSeconds)})`;
}

/**
 * The transcript as a plain-text quote for the thread, speaker and duration shown:
 * `🎙️ Voice note from Ana (0:11)` then each transcript line prefixed with `> `.
 */
export function formatTranscriptQuote(result: VoiceSuccess): string {
  const body = result.transcript
    .split(/\r?\n/)
    .map((line) => `> ${line}`)
    .join("\n");
  return `${quoteHeader(result)}\n${body}`;
}

/** The same quote as reply blocks (a text header and a quote block) for adapters that render blocks. */
export function transcriptQuoteBlocks(result: VoiceSuccess): ReplyBlock[] {
  return [
    { type: "text", text: quoteHeader(result) },
    { type: "quote", text: result.transcript },
  ];
}

/** How long a finished transcription is remembered to absorb a duplicate delivery, ms. */
const RECENT_TTL_MS = 10 * 60 * 1000;
const RECENT_MAX = 200;

/**
 * Builds the voice-note service. Uses `deps.transcriber` when given; else Deepgram with the key
 * `deps.keys` resolves for the message's tenant and person (the workspace key vault: person →
 * workspace → DEEPGRAM_API_KEY), or `DEEPGRAM_API_KEY` alone without a vault (`DEEPGRAM_API_URL`,
 * `DEEPGRAM_MODEL`); with no key at all `transcribe` answers `disabled` without downloading
 * anything. One Deepgram client per key is kept (LRU, {@link DeepgramClientCache}). When Deepgram
 * refuses a stored key, `deps.keys.refused` marks it (the admin is told once) and the next key in
 * the order (normally DEEPGRAM_API_KEY) is tried at once. Each successful transcription adds its
 * audio seconds to the tenant's monthly usage (`deps.keys.recordUsage`). Limits: `VOICE_MAX_BYTES`,
 * `VOICE_MAX_SECONDS`. Language: the tenant's `voice.language` setting, else `DEEPGRAM_LANGUAGE`.
 *
 * The same file (tenant + file id + download URL) arriving again while its transcription runs, or
 * within 10 minutes after it succeeded, reuses that result instead of paying for a second call.
 */
export function createVoiceNotes(deps: {
  config: Config;
  db: Db;
  logger: Logger;
  transcriber?: Transcriber;
  /** Where Deepgram keys come from and audio usage goes (the key vault); default: the environment. */
  keys?: VoiceKeySource;
}): VoiceNotes {
  const env = deps.config.env;
  const { db, logger } = deps;
  const keys = deps.keys ?? envKeySource(env.DEEPGRAM_API_KEY, env.DEEPGRAM_API_URL);
  const clients = new DeepgramClientCache({ model: env.DEEPGRAM_MODEL, logger });
  const enabled = Boolean(deps.transcriber || deps.keys || env.DEEPGRAM_API_KEY?.trim());
  /** The transcriber for a voice note and the key it uses (none for an injected transcriber). */
  const pick = async (ctx: {
    tenantId: string;
    user?: string;
  }): Promise<{ transcriber: Transcriber; key?: DeepgramKey } | undefined> => {
    if (deps.transcriber) return { transcriber: deps.transcriber };
    let key: DeepgramKey | undefined;
    try {
      key = await keys.resolve(ctx.tenantId, ctx.user);
    } catch (err) {
      logger.warn({ err, tenantId: ctx.tenantId }, "Deepgram key unreadable; using DEEPGRAM_API_KEY");
      key = await envKeySource(env.DEEPGRAM_API_KEY, env.DEEPGRAM_API_URL).resolve(ctx.tenantId);
    }
    return key ? { transcriber: clients.get(key), key } : undefined;
  };
  const limits: AudioLimits = { maxBytes: env.VOICE_MAX_BYTES, maxSeconds: env.VOICE_MAX_SECONDS };
  const inFlight = new Map<string, Promise<VoiceResult>>();
  const recent = new Map<string, { at: number; result: VoiceSuccess }>();

  const fail = (
    tenantId: string,
    file: ChatFile,
    failure: VoiceFailure,
    extra: Record<string, unknown> = {},
  ) => {
    voiceNotesTotal.inc({ outcome: failure.reason });
    logger.warn(
      { tenantId, fileId: file.id, reason: failure.reason, ...extra },
      "voice note not transcribed",
    );
    return failure;
  };

  async function run(
    file: ChatFile,
    ctx: { tenantId: string; speaker?: string; user?: string },
  ): Promise<VoiceResult> {
    const started = Date.now();
    let picked = await pick(ctx);
    if (!picked) {
      const message = deps.keys ? VOICE_MESSAGES.disabledNoKey : VOICE_MESSAGES.disabled;
      return fail(ctx.tenantId, file, { ok: false, reason: "disabled", message });
    }
    if (file.size !== undefined && file.size > limits.maxBytes) {
      return fail(ctx.tenantId, file, {
        ok: false,
        reason: "too_large",
        message: VOICE_MESSAGES.tooLarge(file.size, limits.maxBytes),
      });
    }
    if (file.durationSeconds !== undefined && file.durationSeconds > limits.maxSeconds) {
      return fail(ctx.tenantId, file, {
        ok: false,
        reason: "too_long",
        message: VOICE_MESSAGES.tooLong(file.durationSeconds, limits.maxSeconds),
      });
    }
    if (!file.download) {
      return fail(
        ctx.tenantId,
        file,
        { ok: false, reason: "download_failed", message: VOICE_MESSAGES.downloadFailed },
        { cause: "the file has no download function" },
      );
    }
    let bytes: Buffer;
    try {
      bytes = await file.download();
    } catch (err) {
      const cause = scrubSecrets(err instanceof Error ? err.message : String(err));
      return fail(
        ctx.tenantId,
        file,
        { ok: false, reason: "download_failed", message: VOICE_MESSAGES.downloadFailed },
        { cause },
      );
    }
    const checked = checkAudio(bytes, limits, file.durationSeconds);
    if (!checked.ok) {
      // Log what the bytes start with when they are not audio (an HTML login page, JSON error…),
      // never the audio itself.
      const extra =
        checked.reason === "not_audio"
          ? { bytes: bytes.length, head: describeHead(bytes) }
          : { bytes: bytes.length };
      return fail(ctx.tenantId, file, checked, extra);
    }
    let language: VoiceLanguage = { mode: "default" };
    try {
      language = await getVoiceLanguage(db, ctx.tenantId, env.DEEPGRAM_LANGUAGE);
    } catch (err) {
      logger.warn({ err, tenantId: ctx.tenantId }, "voice language setting unreadable; using the default");
    }
    const opts = {
      contentType: checked.audio.contentType,
      ...(language.mode === "code" ? { language: language.code } : {}),
      ...(language.mode === "detect" ? { detectLanguage: true } : {}),
    };
    try {
      let t: Transcription;
      try {
        t = await picked.transcriber.transcribe(bytes, opts);
      } catch (err) {
        const refused = picked.key;
        if (!(err instanceof TranscriptionError && err.kind === "unauthorized" && refused)) throw err;
        if (refused.scope === "env") throw err;
        // A stored key was refused: mark it (its admin is told once), then try the next key.
        logger.warn(
          { tenantId: ctx.tenantId, scope: refused.scope, last4: refused.last4, status: err.status },
          "Deepgram refused a stored key",
        );
        await keys
          .refused(ctx.tenantId, refused)
          .catch((e: unknown) =>
            logger.warn({ err: e, tenantId: ctx.tenantId }, "could not mark the refused Deepgram key"),
          );
        picked = await pick(ctx);
        if (!picked?.key || picked.key.apiKey === refused.apiKey) {
          throw new TranscriptionError(
            "unauthorized",
            err.message,
            err.status,
            err.requestId,
            err.attempts,
            true,
          );
        }
        t = await picked.transcriber.transcribe(bytes, opts);
      }
      const durationSeconds = t.durationSeconds || checked.audio.durationSeconds || file.durationSeconds || 0;
      const lang = t.language ?? (language.mode === "code" ? language.code : undefined);
      const result: VoiceSuccess = {
        ok: true,
        transcript: t.transcript,
        durationSeconds,
        confidence: t.confidence,
        ...(ctx.speaker ? { speaker: ctx.speaker } : {}),
        ...(lang ? { language: lang } : {}),
      };
      voiceNotesTotal.inc({ outcome: t.transcript ? "transcribed" : "no_speech" });
      voiceSeconds.inc(durationSeconds);
      await keys
        .recordUsage(ctx.tenantId, durationSeconds)
        .catch((e: unknown) =>
          logger.warn({ err: e, tenantId: ctx.tenantId }, "could not count the voice note's audio minutes"),
        );
      logger.info(
        {
          tenantId: ctx.tenantId,
          fileId: file.id,
          format: checked.audio.format,
          bytes: bytes.length,
          durationSeconds,
          words: t.words.length,
          language: lang,
          keyScope: picked.key?.scope,
          ms: Date.now() - started,
        },
        "voice note transcribed",
      );
      return result;
    } catch (err) {
      const e = err instanceof TranscriptionError ? err : undefined;
      return fail(ctx.tenantId, file, transcriptionFailure(err), {
        kind: e?.kind ?? "unknown",
        status: e?.status,
        requestId: e?.requestId,
        attempts: e?.attempts,
        cause: scrubSecrets(err instanceof Error ? err.message : String(err)),
      });
    }
  }

  return {
    enabled,
    isVoiceNote,
    async transcribe(file, ctx) {
      try {
        const key = file.downloadUrl ? `${ctx.tenantId}\u0000${file.id}\u0000${file.downloadUrl}` : undefined;
        if (!key) return await run(file, ctx);
        const now = Date.now();
        for (const [k, v] of recent) if (now - v.at > RECENT_TTL_MS) recent.delete(k);
        const done = recent.get(key);
        if (done) {
          logger.info(
            { tenantId: ctx.tenantId, fileId: file.id },
            "voice note already transcribed; reusing the result",
          );
          return { ...done.result, ...(ctx.speaker ? { speaker: ctx.speaker } : {}) };
        }
        const pending = inFlight.get(key);
        if (pending) return await pending;
        const p = run(file, ctx);
        inFlight.set(key, p);
        try {
          const result = await p;
          if (result.ok) {
            recent.set(key, { at: Date.now(), result });
            while (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value as string);
          }
          return result;
        } finally {
          inFlight.delete(key);
        }
      } catch (err) {
        // run() handles every expected failure; this is the last guard of "never throws".
        logger.error({ err, tenantId: ctx.tenantId, fileId: file.id }, "voice note failed unexpectedly");
        return transcriptionFailure(err);
      }
    },
  };
}

/** A safe description of the first bytes of a non-audio download, for logs. */
function describeHead(bytes: Buffer): string {
  const head = bytes.subarray(0, 16);
  const printable = /^[\x09\x0a\x0d\x20-\x7e]*$/.test(head.toString("latin1"));
  return printable ? JSON.stringify(head.toString("latin1")) : head.toString("hex");
}
