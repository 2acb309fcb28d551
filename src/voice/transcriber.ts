/**
 * The Transcriber port: speech-to-text for one in-memory audio clip. Atom's voice notes and the
 * `atom transcribe` command talk to this interface only; `deepgram.ts` implements it.
 */

/** Options of one transcription. */
export interface TranscribeOptions {
  /** Content type of the audio as sniffed from its bytes, e.g. `audio/wav`, `audio/mp4`. */
  contentType: string;
  /** BCP-47 language code the speech is in (e.g. `en`, `de`, `pt-BR`). */
  language?: string;
  /** Let the engine detect the spoken language (ignored when `language` is set). */
  detectLanguage?: boolean;
}

/** One recognised word with its timing in seconds from the start of the clip. */
export interface TranscriptWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
  /** Speaker index when the engine separated speakers. */
  speaker?: number;
}

/** What a transcription returns. */
export interface Transcription {
  /** The whole transcript (punctuated, formatted); empty when no speech was heard. */
  transcript: string;
  /** Confidence of the transcript, 0..1. */
  confidence: number;
  /** Length of the audio in seconds as the engine measured it. */
  durationSeconds: number;
  words: TranscriptWord[];
  /** Language the engine detected (only when detection was asked for). */
  language?: string;
}

/** Why a transcription failed. */
export type TranscriptionErrorKind =
  /** The API key was refused (HTTP 401/403). */
  | "unauthorized"
  /** The engine could not use the request or the audio (HTTP 400, 413, 415, 422). */
  | "bad_request"
  /** Still rate limited after the bounded retries (HTTP 429). */
  | "rate_limited"
  /** The engine kept failing (HTTP 5xx) after the bounded retries. */
  | "unavailable"
  /** No answer in time. */
  | "timeout"
  /** The engine could not be reached (DNS, refused connection, reset). */
  | "network"
  /** The engine answered with something that is not a transcription. */
  | "invalid_response";

/**
 * A failed transcription. `message` is for logs (it never holds the key or the audio);
 * `status` is the HTTP status when there was one, `requestId` the engine's request id.
 */
export class TranscriptionError extends Error {
  constructor(
    readonly kind: TranscriptionErrorKind,
    message: string,
    readonly status?: number,
    readonly requestId?: string,
    readonly attempts = 1,
    /** Deepgram refused a workspace's or person's stored key (its admin has been told). */
    readonly storedKeyRefused = false,
  ) {
    super(message);
    this.name = "TranscriptionError";
  }
}

/** Speech-to-text engine. */
export interface Transcriber {
  /**
   * Transcribes one clip held in memory.
   * @param audio the clip's bytes (never written anywhere by implementations).
   * @throws TranscriptionError on every failure.
   */
  transcribe(audio: Buffer, opts: TranscribeOptions): Promise<Transcription>;
}
