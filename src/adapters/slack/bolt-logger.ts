import { LogLevel, type Logger as BoltLogger } from "@slack/bolt";
import { type Logger, scrubSecrets } from "../../observability/logger.ts";

/**
 * Adapts Atom's pino logger to the `@slack/logger` interface Bolt and the WebClient use.
 * Bolt's info chatter goes to debug; warnings and errors stay (with `quiet`, they go to debug too:
 * for clients whose failures the caller reports itself). Strings are scrubbed of tokens.
 */
export function boltLogger(logger: Logger, opts: { quiet?: boolean } = {}): BoltLogger {
  const child = logger.child({ component: "slack-bolt" });
  let level: LogLevel = LogLevel.INFO;
  const text = (msg: unknown[]) =>
    scrubSecrets(
      msg.map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : safeJson(m))).join(" "),
    );
  return {
    debug: (...msg: unknown[]) => child.trace(text(msg)),
    info: (...msg: unknown[]) => child.debug(text(msg)),
    warn: (...msg: unknown[]) => (opts.quiet ? child.debug(text(msg)) : child.warn(text(msg))),
    error: (...msg: unknown[]) => (opts.quiet ? child.debug(text(msg)) : child.error(text(msg))),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
