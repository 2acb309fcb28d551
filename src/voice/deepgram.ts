import type { DeepgramClient } from "@deepgram/sdk";
import { type Logger, scrubSecrets } from "../observability/logger.ts";
import {
  type TranscribeOptions,
  type Transcriber,
  type Transcription,
  TranscriptionError,
  type TranscriptionErrorKind,
  type TranscriptWord,
} from "./transcriber.ts";

/** Settings of {@link createDeepgramTranscriber}. */
export interface DeepgramTranscriberOptions {
  /** Deepgram API key (sent as `Authorization: Token <key>` by the SDK). */
  apiKey: string;
  /** API base URL (`DEEPGRAM_API_URL`: a proxy, or a fake in tests); default Deepgram's own. */
  baseUrl?: string;
  /** Model name, e.g. `nova-3` (`DEEPGRAM_MODEL`). */
  model?: string;
  logger?: Logger;
  /** Retries after the first attempt for HTTP 429 and 5xx only. Default 2. */
  maxRetries?: number;
  /** First back-off delay without a Retry-After header, doubled per retry. Default 500 ms. */
  baseRetryDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails as rate limited. Default 20 s. */
  maxRetryDelayMs?: number;
  /** Time limit of one HTTP attempt in seconds. Default 120. */
  timeoutSeconds?: number;
  /** Waits between retries (tests may shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * `fetch` for the Deepgram client that never sends a caller-set `Content-Length`.
 *
 * The SDK sets `Content-Length` itself on binary uploads. Once `@slack/bolt` (through
 * `@slack/socket-mode`) has loaded undici 7, that undici becomes the global dispatcher of Node 20's
 * built-in `fetch`, which then rejects such a request with `invalid content-length header`. The
 * body is a Buffer, so `fetch` derives the same length itself when the header is left out.
 */
export const fetchWithoutContentLength: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.delete("content-length");
  return fetch(input, { ...init, headers });
};

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Parses an HTTP `Retry-After` value (delta seconds or an HTTP date) into milliseconds.
 * @returns undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Deepgram error bodies look like `{"err_code": "...", "err_msg": "...", "request_id": "..."}`. */
function errorDetail(body: unknown): { code?: string; msg?: string; requestId?: string } {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    return {
      code: str(b.err_code) ?? str(b.category),
      msg: str(b.err_msg) ?? str(b.message) ?? str(b.details),
      requestId: str(b.request_id),
    };
  }
  if (typeof body === "string") return { msg: body.slice(0, 300) };
  return {};
}

function kindOfStatus(status: number): TranscriptionErrorKind {
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "unavailable";
  return "bad_request";
}

/**
 * The Deepgram implementation of the {@link Transcriber} port, over the real `@deepgram/sdk` 5
 * (`DeepgramClient` → `listen.v1.media.transcribeFile`, pre-recorded audio, `POST /v1/listen`;
 * https://developers.deepgram.com/reference/speech-to-text/listen-pre-recorded).
 *
 * Each request asks for `model`, `smart_format=true` and `punctuate=true`, plus `language=<code>`
 * or `detect_language=true`. The audio goes up with its sniffed content type. HTTP 429 and 5xx are
 * retried up to `maxRetries` times, waiting for `Retry-After` when Deepgram sends one (and giving
 * up when it asks for longer than `maxRetryDelayMs`); every other failure is final at once.
 * The SDK's own retries are switched off so that this policy is the only one.
 * @throws TranscriptionError from `transcribe` (the key and the audio never appear in it).
 */
export function createDeepgramTranscriber(opts: DeepgramTranscriberOptions): Transcriber {
  const model = opts.model ?? "nova-3";
  const maxRetries = Math.max(0, opts.maxRetries ?? 2);
  const baseDelay = opts.baseRetryDelayMs ?? 500;
  const maxDelay = opts.maxRetryDelayMs ?? 20_000;
  const timeoutSeconds = opts.timeoutSeconds ?? 120;
  const sleep = opts.sleep ?? defaultSleep;
  const logger = opts.logger;
  // The SDK is loaded on the first voice note: most processes (CLI commands) never need it.
  type Sdk = typeof import("@deepgram/sdk");
  let loaded: Promise<{ sdk: Sdk; client: DeepgramClient }> | undefined;
  const load = () => {
    loaded ??= import("@deepgram/sdk").then((sdk) => ({
      sdk,
      client: new sdk.DeepgramClient({
        apiKey: opts.apiKey,
        ...(opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/+$/, "") } : {}),
        fetch: fetchWithoutContentLength,
        maxRetries: 0,
        timeoutInSeconds: timeoutSeconds,
      }),
    }));
    return loaded;
  };

  const toError = (
    { DeepgramError, DeepgramTimeoutError }: Sdk,
    err: unknown,
    attempts: number,
  ): { error: TranscriptionError; retryAfterMs?: number } => {
    if (err instanceof DeepgramTimeoutError) {
      return {
        error: new TranscriptionError(
          "timeout",
          `Deepgram did not answer within ${timeoutSeconds} s`,
          undefined,
          undefined,
          attempts,
        ),
      };
    }
    if (err instanceof DeepgramError) {
      const status = err.statusCode;
      const detail = errorDetail(err.body);
      const requestId = detail.requestId ?? err.rawResponse?.headers?.get?.("dg-request-id") ?? undefined;
      if (status === undefined) {
        const cause =
          err.cause instanceof Error
            ? err.cause.cause instanceof Error
              ? err.cause.cause.message
              : err.cause.message
            : err.message;
        return {
          error: new TranscriptionError(
            "network",
            scrubSecrets(`Deepgram could not be reached: ${cause}`),
            undefined,
            undefined,
            attempts,
          ),
        };
      }
      const what = [detail.code, detail.msg].filter(Boolean).join(": ") || "no detail";
      return {
        error: new TranscriptionError(
          kindOfStatus(status),
          scrubSecrets(`Deepgram answered HTTP ${status} (${what})`),
          status,
          requestId,
          attempts,
        ),
        retryAfterMs: parseRetryAfter(err.rawResponse?.headers?.get?.("retry-after")),
      };
    }
    const message = err instanceof Error ? err.message : String(err);
    return {
      error: new TranscriptionError(
        "network",
        scrubSecrets(`Deepgram request failed: ${message}`),
        undefined,
        undefined,
        attempts,
      ),
    };
  };

  return {
    async transcribe(audio: Buffer, o: TranscribeOptions): Promise<Transcription> {
      const params: Record<string, unknown> = { model, smart_format: true, punctuate: true };
      if (o.language) params.language = o.language;
      else if (o.detectLanguage) params.detect_language = true;
      const { sdk, client } = await load();
      for (let attempt = 1; ; attempt++) {
        let response: unknown;
        try {
          response = await client.listen.v1.media.transcribeFile(
            { data: audio, contentType: o.contentType },
            params,
            { maxRetries: 0 },
          );
        } catch (err) {
          const { error, retryAfterMs } = toError(sdk, err, attempt);
          const retryable = error.kind === "rate_limited" || error.kind === "unavailable";
          if (!retryable || attempt > maxRetries) throw error;
          const delay = retryAfterMs ?? baseDelay * 2 ** (attempt - 1);
          if (delay > maxDelay) {
            throw new TranscriptionError(
              error.kind,
              `${error.message}; asked to wait ${Math.ceil(delay / 1000)} s, more than the ${Math.ceil(maxDelay / 1000)} s Atom waits`,
              error.status,
              error.requestId,
              attempt,
            );
          }
          logger?.warn(
            { status: error.status, attempt, delayMs: delay, requestId: error.requestId },
            "deepgram request failed, retrying",
          );
          await sleep(delay);
          continue;
        }
        return parseResponse(response, attempt);
      }
    },
  };
}

/** Maps Deepgram's `ListenV1Response` to a {@link Transcription}. */
function parseResponse(body: unknown, attempts: number): Transcription {
  const b = body as {
    metadata?: { duration?: unknown; request_id?: string };
    results?: {
      channels?: Array<{ detected_language?: unknown; alternatives?: Array<Record<string, unknown>> }>;
    };
  };
  if (!b || typeof b !== "object" || !b.results || !Array.isArray(b.results.channels)) {
    throw new TranscriptionError(
      "invalid_response",
      "Deepgram answered without results (an asynchronous callback response or an unknown shape)",
      undefined,
      b?.metadata?.request_id,
      attempts,
    );
  }
  const channel = b.results.channels[0];
  const alt = channel?.alternatives?.[0] ?? {};
  const num = (v: unknown, d = 0) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  const words: TranscriptWord[] = Array.isArray(alt.words)
    ? (alt.words as Array<Record<string, unknown>>).map((w) => ({
        word: String(w.punctuated_word ?? w.word ?? ""),
        start: num(w.start),
        end: num(w.end),
        confidence: num(w.confidence),
        ...(typeof w.speaker === "number" ? { speaker: w.speaker } : {}),
      }))
    : [];
  const language = typeof channel?.detected_language === "string" ? channel.detected_language : undefined;
  return {
    transcript: typeof alt.transcript === "string" ? alt.transcript.trim() : "",
    confidence: num(alt.confidence),
    durationSeconds: num(b.metadata?.duration),
    words,
    ...(language ? { language } : {}),
  };
}
