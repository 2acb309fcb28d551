import pino, { type Logger } from "pino";
import { errorSink } from "./errors.ts";
import { currentRequestId } from "./request-context.ts";

export type { Logger };

/**
 * Paths that hold secrets anywhere in a log object. pino replaces their values with "[redacted]".
 */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "botToken",
  "*.botToken",
  "accessToken",
  "*.accessToken",
  "refreshToken",
  "*.refreshToken",
  "apiKey",
  "*.apiKey",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "clientSecret",
  "*.clientSecret",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "cookie",
  "*.cookie",
  "headers.cookie",
  "*.headers.cookie",
  'headers["set-cookie"]',
  '*.headers["set-cookie"]',
  'headers["x-slack-signature"]',
  '*.headers["x-slack-signature"]',
  "masterKey",
  "*.masterKey",
  "signingSecret",
  "*.signingSecret",
  "dsn",
  "*.dsn",
];

const SECRET_PATTERNS: RegExp[] = [
  /xox[abposr]-[0-9A-Za-z-]+/g,
  /xapp-[0-9A-Za-z-]+/g,
  /sk-[A-Za-z0-9_-]{16,}/g,
  /sk-ant-[A-Za-z0-9_-]+/g,
  /(Bearer|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g,
  // Google OAuth access tokens, refresh tokens and client secrets.
  /ya29\.[A-Za-z0-9._-]{8,}/g,
  /1\/\/0[A-Za-z0-9._-]{8,}/g,
  /GOCSPX-[A-Za-z0-9_-]{8,}/g,
  // Deepgram and Basic credentials in header form.
  /Basic\s+[A-Za-z0-9+/=]{8,}/g,
  // JSON Web Tokens (Bot Framework, Entra) wherever they appear.
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
];

/**
 * Secrets that travel as a parameter or header value: signed single-use links (`?link=`,
 * `?token=`, `?sig=`), OAuth codes and states, and cookies. The name stays, the value goes.
 */
const SECRET_PARAMS: RegExp[] = [
  /([?&;](?:link|token|access_token|refresh_token|code|state|sig|signature|session|key|api_key)=)[^&\s"'<>]+/gi,
  /((?:^|[\s"'{,])(?:cookie|set-cookie)["']?\s*[:=]\s*["']?)[^"'\n}]+/gi,
];

/** Removes well-known secret shapes (Slack, OpenAI, Anthropic, Google tokens; bearer headers) from text. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m) => `${m.slice(0, 4)}…[redacted]`);
  for (const re of SECRET_PARAMS) out = out.replace(re, (_m, name: string) => `${name}[redacted]`);
  return out;
}

/** Scrubs secret shapes from every string in a log object (three levels deep; errors are left to their serializer). */
function scrubObject(v: unknown, depth: number): unknown {
  if (typeof v === "string") return scrubSecrets(v);
  if (!v || typeof v !== "object" || depth > 3 || v instanceof Error) return v;
  if (Array.isArray(v)) return v.map((x) => scrubObject(x, depth + 1));
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrubObject(x, depth + 1);
  return out;
}

/** One file destination per path for the process (every logger appends to the same one). */
const captureFiles = new Map<string, pino.DestinationStream>();

/**
 * The `ATOM_LOG_FILE` copy: a synchronous append-only destination for that path (`{pid}` in it is
 * replaced by the process id, so processes never share a file), or undefined when unset.
 */
function captureDestination(): pino.DestinationStream | undefined {
  const file = process.env.ATOM_LOG_FILE?.trim().replaceAll("{pid}", String(process.pid));
  if (!file) return undefined;
  let dest = captureFiles.get(file);
  if (!dest) {
    dest = pino.destination({ dest: file, append: true, mkdir: true, sync: true });
    captureFiles.set(file, dest);
  }
  return dest;
}

/**
 * Creates the process logger: JSON lines on stderr (or `destination`), secrets redacted by path
 * ({@link REDACT_PATHS}) and by shape in messages and errors ({@link scrubSecrets}), and the
 * current request id (`reqId`, see request-context.ts) on every line.
 * With `ATOM_LOG_FILE` set, every line at debug level and above — also of a logger whose own level
 * is `silent` — is appended to that file as well, redacted the same way (a debug log to keep, and
 * what the test run's secret check greps).
 */
export function createLogger(level = "info", name = "atom", destination?: pino.DestinationStream): Logger {
  const main = destination ?? pino.destination(2);
  const capture = captureDestination();
  const own = pino.levels.values[level] ?? Number.POSITIVE_INFINITY;
  const stream = capture
    ? pino.multistream([
        ...(Number.isFinite(own) ? [{ level: level as pino.Level, stream: main }] : []),
        { level: "debug" as const, stream: capture },
      ])
    : main;
  return pino(
    {
      name,
      level: capture && !(own <= pino.levels.values.debug!) ? "debug" : level,
      mixin() {
        const reqId = currentRequestId();
        return reqId ? { reqId } : {};
      },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: {
        // Values of any field (a URL with a signed link, a header dump) are scrubbed too.
        log: (obj) => scrubObject(obj, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method, level) {
          // Only what this logger itself emits is reported (not the ATOM_LOG_FILE copy).
          const report = level >= 50 && level >= own ? errorSink() : undefined;
          const first = args[0] as unknown;
          if (report && first && typeof first === "object" && "err" in first) {
            const { err, ...context } = first as { err: unknown };
            const msg = args.find((a, i) => i > 0 && typeof a === "string");
            try {
              report(err, { ...context, ...(msg ? { logMessage: msg } : {}) });
            } catch {
              // Reporting never breaks logging.
            }
          }
          const scrubbed = args.map((a) => (typeof a === "string" ? scrubSecrets(a) : a));
          return method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          if (s?.message) s.message = scrubSecrets(s.message);
          if (s?.stack) s.stack = scrubSecrets(s.stack);
          return s;
        },
      },
    },
    stream,
  );
}

/**
 * A logger that prints nothing (tests, CLI JSON output). With `ATOM_LOG_FILE` set it still
 * appends its lines, redacted, to that file.
 */
export const silentLogger: Logger = createLogger("silent");
