import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import type { Reply } from "../../src/bot/reply.ts";
import type { ConversationTarget } from "../../src/core/ports.ts";
import { loadConfig } from "../../src/config.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import type { Atom } from "../../src/main.ts";
import { REDACT_PATHS } from "../../src/observability/logger.ts";
import type { ConnectRequest } from "../../src/security/connect-links.ts";
import type { FakeGoogle } from "../integration/fakes/google.ts";

/** The public URL tests give Atom (nothing listens there: requests go to `atom.app.request`). */
export const PUBLIC_URL = "https://atom.test.example";

/** Every log line written during a test run, for the "no secret in any log line" check. */
export const capturedLogs: string[] = [];

/** A logger that writes JSON lines into {@link capturedLogs} (debug level, secrets redacted as in production). */
export function capturingLogger(): pino.Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      capturedLogs.push(String(chunk));
      cb();
    },
  });
  return pino({ level: "debug", redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, sink);
}

/** An Atom wired to the fake Google (no chat adapters; a recording messenger instead). */
export interface DriveAtom {
  atom: Atom;
  dir: string;
  /** Messages Atom sent proactively (first-sync reports, broken-connection notices). */
  sent: { target: ConversationTarget; reply: Reply }[];
  close(): Promise<void>;
}

/** The environment that points Atom at the fake Google (for `atom` child processes too). */
export function googleEnv(fake: FakeGoogle, dir: string): Record<string, string> {
  return {
    ATOM_DATA_DIR: dir,
    PUBLIC_URL,
    GOOGLE_CLIENT_ID: fake.clientId,
    GOOGLE_CLIENT_SECRET: fake.clientSecret,
    GOOGLE_OAUTH_AUTHORIZE_URL: fake.authorizeUrl,
    GOOGLE_OAUTH_TOKEN_URL: fake.tokenUrl,
    GOOGLE_DRIVE_API_URL: fake.apiUrl,
  };
}

/** Opens an Atom on a temp data dir with the Google settings pointing at `fake`. */
export async function openDriveAtom(
  fake: FakeGoogle,
  env: Record<string, string> = {},
  opts: { dir?: string; keepDir?: boolean } = {},
): Promise<DriveAtom> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "atom-gdrive-"));
  const config = loadConfig({
    ATOM_DATA_DIR: dir,
    LOG_LEVEL: "debug",
    PUBLIC_URL,
    GOOGLE_CLIENT_ID: fake.clientId,
    GOOGLE_CLIENT_SECRET: fake.clientSecret,
    GOOGLE_OAUTH_AUTHORIZE_URL: fake.authorizeUrl,
    GOOGLE_OAUTH_TOKEN_URL: fake.tokenUrl,
    GOOGLE_DRIVE_API_URL: fake.apiUrl,
    ...env,
  });
  const { createAtom } = await import("../../src/main.ts");
  const atom = await createAtom(config, { logger: capturingLogger(), adapters: false });
  const sent: DriveAtom["sent"] = [];
  atom.messengers.set("slack", {
    platform: "slack",
    async send(target, reply) {
      sent.push({ target, reply });
      return { messageId: String(sent.length) };
    },
  });
  atom.jobs.start();
  return {
    atom,
    dir,
    sent,
    async close() {
      await atom.close();
      if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The chat user who connects, by default. */
export const ANA: ConnectRequest = {
  tenantId: "default",
  platform: "slack",
  userId: "UANA",
  userEmail: "ana@example.com",
};

/**
 * Runs the whole sign-in: the chat link → Atom's start route (302 to the fake consent page, with
 * the state cookie) → the fake's consent (302 back with code and state) → Atom's callback (PKCE
 * verifier checked by the fake token endpoint). Waits for the first sync job to finish.
 * @returns the callback page.
 */
export async function connectDrive(
  d: DriveAtom,
  fake: FakeGoogle,
  request: ConnectRequest = ANA,
  opts: { drain?: boolean } = {},
): Promise<{ status: number; html: string }> {
  const provider = d.atom.connections.provider("google")!;
  const link = await d.atom.connections.signInLink(provider, request);
  const start = await d.atom.app.request(link.replace(PUBLIC_URL, ""));
  if (start.status !== 302) throw new Error(`start answered ${start.status}: ${await start.text()}`);
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0]!;
  const consentUrl = start.headers.get("location")!;
  if (!consentUrl.startsWith(fake.authorizeUrl))
    throw new Error(`not sent to the fake consent page: ${consentUrl}`);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  if (consent.status !== 302) throw new Error(`consent answered ${consent.status}: ${await consent.text()}`);
  const back = new URL(consent.headers.get("location")!);
  const done = await d.atom.app.request(`${back.pathname}${back.search}`, { headers: { cookie } });
  const html = await done.text();
  if (opts.drain ?? true) await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
  return { status: done.status, html };
}

/** Runs a sync of every connection now and waits for it (like `atom sync`). */
export async function syncNow(d: DriveAtom): Promise<void> {
  await d.atom.connections.enqueueAll("manual");
  await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
}

/** A DM from the connecting user, as the Slack adapter would build it. */
export function dm(text: string, request: ConnectRequest = ANA) {
  return {
    platform: "slack" as const,
    tenantId: request.tenantId,
    channelId: "DANA",
    threadId: `t${Math.random()}`,
    messageId: `m${Math.random()}`,
    userId: request.userId,
    userEmail: request.userEmail,
    text,
    files: [],
    isDirect: true,
    mentionsBot: true,
    visibility: "thread" as const,
  };
}

/** A mention in a public channel (everyone sees the reply). */
export function channelMessage(text: string, opts: { externallyShared?: boolean } = {}) {
  return {
    ...dm(text),
    channelId: "CPUBLIC",
    isDirect: false,
    userEmail: undefined,
    ...(opts.externallyShared ? { isExternallyShared: true } : {}),
  };
}
