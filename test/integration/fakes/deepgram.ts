/**
 * A fake Deepgram pre-recorded transcription API (`POST /v1/listen`) on 127.0.0.1, speaking
 * Deepgram's wire format (https://developers.deepgram.com/reference/speech-to-text/listen-pre-recorded):
 * - auth: `Authorization: Token <key>` → otherwise 401 `{"err_code":"INVALID_AUTH",...}`
 * - query: `model`, `smart_format=true`, `punctuate=true` required; `language` xor `detect_language`
 * - body: raw audio with an `audio/*` content type → otherwise 400 like Deepgram's "unsupported data"
 * - response: `{metadata: {request_id, sha256, duration, channels, models, ...}, results: {channels:
 *   [{alternatives: [{transcript, confidence, words}], detected_language?}]}}`
 * The transcript is looked up by the SHA-256 of the uploaded bytes (see {@link FakeDeepgram.register}
 * and {@link registerCorpusClips}); unknown audio gets 400 "corrupt or unsupported data".
 * Failures can be queued: 401, 400, 429 with Retry-After, 5xx.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

/** One request the fake received. */
export interface DeepgramCall {
  authorization?: string;
  contentType?: string;
  contentLength?: string;
  query: Record<string, string>;
  bytes: number;
  sha256: string;
  status: number;
}

/** What the fake answers for one registered clip. */
export interface FakeClip {
  transcript: string;
  duration: number;
  confidence?: number;
  /** Language reported when `detect_language=true`. Default "en". */
  language?: string;
}

/** A queued failure: the next requests get this status. */
export interface FakeFailure {
  status: number;
  /** `Retry-After` header value (seconds), for 429/503. */
  retryAfter?: string;
  /** How many requests fail this way. Default 1. */
  times?: number;
  body?: unknown;
}

export interface FakeDeepgram {
  /** Base URL to use as `DEEPGRAM_API_URL`, e.g. `http://127.0.0.1:43121`. */
  url: string;
  apiKey: string;
  calls: DeepgramCall[];
  /** Registers the answer for these exact bytes. */
  register(audio: Buffer, clip: FakeClip): void;
  /** Queues failures answered before any normal response. */
  fail(failure: FakeFailure): void;
  /** Clears calls and queued failures (registrations stay). */
  reset(): void;
  close(): Promise<void>;
}

/**
 * The corpus clips and their transcripts as given in `../shared/corpus/audio/NOTICE.md`
 * (smart-formatted the way Deepgram writes them).
 */
export const CORPUS_CLIPS: Record<string, FakeClip> = {
  "jfk.wav": {
    transcript:
      "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    duration: 11.0,
  },
  "counting-one-to-five.m4a": { transcript: "One, two, three, four, five.", duration: 6.44 },
  "remind-monday-9am.m4a": {
    transcript: "Remind me every Monday at 9 AM to review the sales dashboard.",
    duration: 4.08,
  },
  "remind-monday-9am.webm": {
    transcript: "Remind me every Monday at 9 AM to review the sales dashboard.",
    duration: 4.08,
  },
  "remind-monday-9am.wav": {
    transcript: "Remind me every Monday at 9 AM to review the sales dashboard.",
    duration: 4.08,
  },
};

/** Where the real audio clips live (relative to the repository root). */
export const CORPUS_AUDIO_DIR = path.resolve(import.meta.dirname, "../../../../shared/corpus/audio");

/** Whether the audio corpus is present (tests skip with a message when not). */
export const corpusAudioAvailable = (): boolean =>
  Object.keys(CORPUS_CLIPS).every((f) => fs.existsSync(path.join(CORPUS_AUDIO_DIR, f)));

/** Reads one corpus clip. */
export const readCorpusClip = (name: string): Buffer => fs.readFileSync(path.join(CORPUS_AUDIO_DIR, name));

/** Registers every corpus clip's transcript on the fake. */
export function registerCorpusClips(fake: FakeDeepgram): void {
  for (const [name, clip] of Object.entries(CORPUS_CLIPS)) fake.register(readCorpusClip(name), clip);
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function wordsOf(clip: FakeClip) {
  const tokens = clip.transcript.split(/\s+/).filter(Boolean);
  const step = tokens.length ? clip.duration / tokens.length : 0;
  return tokens.map((punctuated, i) => ({
    word: punctuated.toLowerCase().replace(/[^\p{L}\p{N}']/gu, ""),
    start: Math.round(i * step * 100) / 100,
    end: Math.round((i + 1) * step * 100) / 100,
    confidence: 0.97,
    punctuated_word: punctuated,
  }));
}

/** Starts the fake on a free loopback port. */
export async function startFakeDeepgram(opts: { apiKey?: string } = {}): Promise<FakeDeepgram> {
  const apiKey = opts.apiKey ?? "dg-test-key-0123456789";
  const clips = new Map<string, FakeClip>();
  const failures: FakeFailure[] = [];
  const calls: DeepgramCall[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const query = Object.fromEntries(url.searchParams.entries());
      const requestId = randomUUID();
      const call: DeepgramCall = {
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        contentLength: req.headers["content-length"],
        query,
        bytes: body.length,
        sha256: sha256(body),
        status: 0,
      };
      calls.push(call);
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        res.writeHead(status, { "content-type": "application/json", "dg-request-id": requestId, ...headers });
        res.end(JSON.stringify(payload));
      };
      const error = (status: number, code: string, msg: string) =>
        send(status, { err_code: code, err_msg: msg, request_id: requestId });

      if (req.method !== "POST" || url.pathname !== "/v1/listen") return error(404, "NOT_FOUND", "Not found");
      const failure = failures[0];
      if (failure) {
        failure.times = (failure.times ?? 1) - 1;
        if (failure.times <= 0) failures.shift();
        const defaults: Record<number, [string, string]> = {
          400: ["Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data"],
          401: ["INVALID_AUTH", "Invalid credentials."],
          429: ["TOO_MANY_REQUESTS", "Too many requests. Please try again later."],
        };
        const [code, msg] = defaults[failure.status] ?? ["INTERNAL_SERVER_ERROR", "Internal server error."];
        return send(failure.status, failure.body ?? { err_code: code, err_msg: msg, request_id: requestId }, {
          ...(failure.retryAfter ? { "retry-after": failure.retryAfter } : {}),
        });
      }
      if (req.headers.authorization !== `Token ${apiKey}`)
        return error(401, "INVALID_AUTH", "Invalid credentials.");
      if (!query.model) return error(400, "Bad Request", "Bad Request: model is required by this fake");
      if (query.smart_format !== "true" || query.punctuate !== "true") {
        return error(
          400,
          "Bad Request",
          "Bad Request: smart_format=true and punctuate=true are required by this fake",
        );
      }
      if (query.language && query.detect_language === "true") {
        return error(400, "Bad Request", "Bad Request: language and detect_language are exclusive");
      }
      if (!/^audio\/[\w.+-]+$/.test(call.contentType ?? "")) {
        return error(
          400,
          "Bad Request",
          `Bad Request: expected an audio content type, got ${call.contentType}`,
        );
      }
      if (call.contentLength !== undefined && Number(call.contentLength) !== body.length) {
        return error(400, "Bad Request", "Bad Request: content-length does not match the body");
      }
      const clip = clips.get(call.sha256);
      if (!clip)
        return error(400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data");
      const detect = query.detect_language === "true";
      return send(200, {
        metadata: {
          transaction_key: "deprecated",
          request_id: requestId,
          sha256: call.sha256,
          created: new Date().toISOString(),
          duration: clip.duration,
          channels: 1,
          models: [randomUUID()],
          model_info: {},
        },
        results: {
          channels: [
            {
              alternatives: [
                {
                  transcript: clip.transcript,
                  confidence: clip.confidence ?? 0.97,
                  words: wordsOf(clip),
                },
              ],
              ...(detect ? { detected_language: clip.language ?? "en", language_confidence: 0.99 } : {}),
            },
          ],
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    calls,
    register(audio, clip) {
      clips.set(sha256(audio), clip);
    },
    fail(failure) {
      failures.push({ ...failure });
    },
    reset() {
      calls.length = 0;
      failures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
