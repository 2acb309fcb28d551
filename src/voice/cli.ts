import fs from "node:fs/promises";
import path from "node:path";
import { ConfigError, loadConfig } from "../config.ts";
import { silentLogger } from "../observability/logger.ts";
import { createDeepgramTranscriber } from "./deepgram.ts";
import { checkAudio, formatClock, transcriptionFailure, VOICE_MESSAGES } from "./index.ts";
import { parseVoiceLanguage } from "./settings.ts";
import type { Transcriber } from "./transcriber.ts";

/** Something text can be written to (process.stdout, a test buffer). */
export interface TextSink {
  write(text: string): unknown;
}

/** Usage text of `atom transcribe`. */
export const TRANSCRIBE_USAGE = `Usage: atom transcribe <file> [--json] [--language <code>|detect]

Transcribes an audio file (WAV, MP3, M4A/MP4, WebM, Ogg/Opus, FLAC, AAC) with Deepgram and prints
the transcript. Needs DEEPGRAM_API_KEY (DEEPGRAM_API_URL, DEEPGRAM_MODEL, DEEPGRAM_LANGUAGE,
VOICE_MAX_BYTES and VOICE_MAX_SECONDS apply too).

  --json               print {file, format, transcript, durationSeconds, confidence, language, words}
  --language <code>    language of the speech (en, de, pt-BR, …) or "detect"
`;

/**
 * `atom transcribe <file> [--json] [--language xx]`: reads the file, checks it is audio (magic
 * bytes) and within VOICE_MAX_BYTES / VOICE_MAX_SECONDS, transcribes it and prints the transcript
 * (plain text, or JSON with `--json`). The audio is read into memory only.
 * @param deps.env environment to read settings from (default `process.env`);
 *             deps.transcriber replaces Deepgram.
 * @returns the exit code: 0 on success, 1 on any problem (message on stderr), 2 on bad usage.
 */
export async function runTranscribe(
  argv: string[],
  io: { stdout: TextSink; stderr: TextSink },
  deps: { env?: NodeJS.ProcessEnv; transcriber?: Transcriber } = {},
): Promise<number> {
  let json = false;
  let languageArg: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--json") json = true;
    else if (a === "-h" || a === "--help") {
      io.stdout.write(TRANSCRIBE_USAGE);
      return 0;
    } else if (a === "--language" || a === "-l") {
      languageArg = argv[++i];
      if (!languageArg) {
        io.stderr.write(
          `--language needs a value (a code like en or de, or "detect")\nSee "atom help transcribe".\n`,
        );
        return 2;
      }
    } else if (a.startsWith("--language=")) languageArg = a.slice("--language=".length);
    else if (a.startsWith("-") && a !== "-") {
      io.stderr.write(`Unknown option ${a}\n\n${TRANSCRIBE_USAGE}`);
      return 2;
    } else files.push(a);
  }
  if (files.length !== 1) {
    io.stderr.write(files.length ? "Give one file at a time.\n\n" + TRANSCRIBE_USAGE : TRANSCRIBE_USAGE);
    return 2;
  }
  const language = languageArg === undefined ? undefined : parseVoiceLanguage(languageArg);
  if (languageArg !== undefined && !language) {
    io.stderr.write(`"${languageArg}" is not a language code (like en, de, pt-BR) or "detect".\n`);
    return 2;
  }

  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(deps.env ?? process.env);
  } catch (err) {
    io.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 1;
  }
  const env = config.env;
  const transcriber =
    deps.transcriber ??
    (env.DEEPGRAM_API_KEY
      ? createDeepgramTranscriber({
          apiKey: env.DEEPGRAM_API_KEY,
          baseUrl: env.DEEPGRAM_API_URL,
          model: env.DEEPGRAM_MODEL,
          logger: silentLogger,
        })
      : undefined);
  if (!transcriber) {
    io.stderr.write(
      "Voice transcription is turned off: set DEEPGRAM_API_KEY to a Deepgram API key (https://console.deepgram.com) and run this again.\n",
    );
    return 1;
  }

  const file = files[0]!;
  let bytes: Buffer;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) {
      io.stderr.write(`${file} is not a file.\n`);
      return 1;
    }
    if (stat.size > env.VOICE_MAX_BYTES) {
      io.stderr.write(`${path.basename(file)}: ${VOICE_MESSAGES.tooLarge(stat.size, env.VOICE_MAX_BYTES)}\n`);
      return 1;
    }
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr.write(
      code === "ENOENT"
        ? `${file}: no such file.\n`
        : `${file}: cannot be read (${code ?? "unknown error"}).\n`,
    );
    return 1;
  }
  const checked = checkAudio(bytes, { maxBytes: env.VOICE_MAX_BYTES, maxSeconds: env.VOICE_MAX_SECONDS });
  if (!checked.ok) {
    const message =
      checked.reason === "not_audio"
        ? `${path.basename(file)} is not an audio file Atom can read (supported: WAV, MP3, M4A/MP4, WebM, Ogg/Opus, FLAC, AAC).`
        : `${path.basename(file)}: ${checked.message}`;
    io.stderr.write(`${message}\n`);
    return 1;
  }
  const chosen = language ?? parseVoiceLanguage(env.DEEPGRAM_LANGUAGE);
  try {
    const t = await transcriber.transcribe(bytes, {
      contentType: checked.audio.contentType,
      ...(chosen?.mode === "code" ? { language: chosen.code } : {}),
      ...(chosen?.mode === "detect" ? { detectLanguage: true } : {}),
    });
    const durationSeconds = t.durationSeconds || checked.audio.durationSeconds || 0;
    const lang = t.language ?? (chosen?.mode === "code" ? chosen.code : undefined);
    if (json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            file: path.basename(file),
            format: checked.audio.format,
            contentType: checked.audio.contentType,
            transcript: t.transcript,
            durationSeconds,
            confidence: t.confidence,
            ...(lang ? { language: lang } : {}),
            words: t.words,
          },
          null,
          2,
        )}\n`,
      );
    } else if (t.transcript) {
      io.stdout.write(`${t.transcript}\n`);
      io.stderr.write(
        `(${checked.audio.format}, ${formatClock(durationSeconds)}, confidence ${t.confidence.toFixed(2)}${lang ? `, ${lang}` : ""})\n`,
      );
    } else {
      io.stderr.write(`${VOICE_MESSAGES.noSpeech}.\n`);
    }
    return 0;
  } catch (err) {
    const detail = err instanceof Error ? ` (${err.message})` : "";
    io.stderr.write(`${transcriptionFailure(err).message}${detail}\n`);
    return 1;
  }
}
