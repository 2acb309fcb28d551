import { randomUUID } from "node:crypto";
import type { ChatMessage } from "../core/ports.ts";
import { type Config, DEFAULT_TENANT, loadConfig } from "../config.ts";
import type { Atom } from "../main.ts";
import { createLogger, type Logger } from "../observability/logger.ts";

/** Standard streams of a CLI command (injectable for tests). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin?: NodeJS.ReadableStream;
}

/** Thrown for wrong command-line usage; printed without a stack trace, exit code 2. */
export class UsageError extends Error {}

/**
 * Opens Atom for a one-shot command: config from the environment, logs at `warn` (or LOG_LEVEL
 * when set) on stderr so stdout stays clean for `--json`.
 */
export async function openForCli(env: NodeJS.ProcessEnv = process.env): Promise<Atom> {
  const config: Config = loadConfig({ ...env, LOG_LEVEL: env.LOG_LEVEL ?? "warn" });
  const logger: Logger = createLogger(config.logLevel);
  // Loaded here, not at start: usage and configuration errors are reported without loading
  // the database, LanceDB and the rest of Atom.
  const { createAtom } = await import("../main.ts");
  return createAtom(config, { logger, adapters: false });
}

/** A ChatMessage typed in the terminal by the local user (default tenant, a direct conversation). */
export function consoleMessage(text: string, threadId: string = randomUUID()): ChatMessage {
  return {
    platform: "console",
    tenantId: DEFAULT_TENANT,
    channelId: "terminal",
    threadId,
    messageId: randomUUID(),
    userId: process.env.USER ?? "local",
    text,
    files: [],
    isDirect: true,
    mentionsBot: true,
    visibility: "thread",
  };
}
