import pino, { type Logger } from "pino";

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
];

/** Removes well-known secret shapes (Slack, OpenAI, Anthropic, Google tokens; bearer headers) from text. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m) => `${m.slice(0, 4)}…[redacted]`);
  return out;
}

/**
 * Creates the process logger (JSON lines on stderr, or on `destination` when given — tests capture
 * every line to check that no secret is logged; secrets redacted).
 */
export function createLogger(level = "info", name = "atom", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      hooks: {
        logMethod(args, method) {
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
    destination ?? pino.destination(2),
  );
}

/** A logger that discards everything (tests, CLI JSON output). */
export const silentLogger: Logger = pino({ level: "silent" });
