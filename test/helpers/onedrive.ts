import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Reply } from "../../src/bot/reply.ts";
import { loadConfig } from "../../src/config.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import type { ConversationTarget } from "../../src/core/ports.ts";
import type { Atom } from "../../src/main.ts";
import { fetchTrusting } from "../../src/memory/sources/onedrive/api.ts";
import type { ConnectRequest } from "../../src/security/connect-links.ts";
import { type FakeGraph, startFakeGraph } from "../integration/fakes/graph.ts";
import { type FakeMicrosoftLogin, startFakeMicrosoftLogin } from "../integration/fakes/microsoft-login.ts";
import { capturingLogger, PUBLIC_URL } from "./google.ts";
import { TEST_SECRETS } from "./secrets.ts";

/** The Entra app the fakes know. */
export const GRAPH_APP = {
  clientId: "5b2c1f0e-1111-4a2b-9c3d-4e5f6a7b8c9d",
  clientSecret: TEST_SECRETS.graphClientSecret,
};

/** The fake authority and Graph, with one user (Ana) who has a OneDrive. */
export interface MicrosoftFakes {
  login: FakeMicrosoftLogin;
  graph: FakeGraph;
  /** Ana's drive id. */
  drive: string;
  close(): Promise<void>;
}

export const ANA_MS = {
  oid: "0a0a0a0a-1111-2222-3333-444444444444",
  upn: "ana@contoso.com",
  name: "Ana Lima",
};

/** Starts the fake Microsoft identity platform and Graph; `user` (Ana) signs in on the consent page. */
export async function startMicrosoftFakes(
  user: { oid: string; upn: string; name: string } = ANA_MS,
): Promise<MicrosoftFakes> {
  const login = await startFakeMicrosoftLogin();
  login.addClient(GRAPH_APP);
  login.signInAs(user);
  const graph = await startFakeGraph({ verify: (t) => login.verify(t) });
  const drive = graph.addUser({ oid: user.oid, upn: user.upn, displayName: user.name });
  return {
    login,
    graph,
    drive,
    async close() {
      await graph.close();
      await login.close();
    },
  };
}

/** Settings pointing Atom at the fakes. */
export function microsoftEnv(f: MicrosoftFakes): Record<string, string> {
  return {
    MICROSOFT_GRAPH_CLIENT_ID: GRAPH_APP.clientId,
    MICROSOFT_GRAPH_CLIENT_SECRET: GRAPH_APP.clientSecret,
    MICROSOFT_LOGIN_URL: f.login.url,
    MICROSOFT_GRAPH_API_URL: f.graph.url,
  };
}

/** An Atom wired to the fakes (no chat adapters; a recording messenger). */
export interface OneDriveAtom {
  atom: Atom;
  sent: { target: ConversationTarget; reply: Reply }[];
  sleeps: number[];
  close(): Promise<void>;
}

/** Opens an Atom on a temp dir with OneDrive settings; Graph retry waits are recorded, not slept. */
export async function openOneDriveAtom(
  f: MicrosoftFakes,
  env: Record<string, string> = {},
): Promise<OneDriveAtom> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-onedrive-"));
  const config = loadConfig({
    ATOM_DATA_DIR: dir,
    LOG_LEVEL: "debug",
    PUBLIC_URL,
    ...microsoftEnv(f),
    ...env,
  });
  const { createAtom } = await import("../../src/main.ts");
  const sleeps: number[] = [];
  const atom = await createAtom(config, {
    logger: capturingLogger(),
    adapters: false,
    microsoft: {
      ca: f.login.ca,
      retry: {
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
    },
  });
  const sent: OneDriveAtom["sent"] = [];
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
    sent,
    sleeps,
    async close() {
      await atom.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Ana in Slack. */
export const ANA_SLACK: ConnectRequest = {
  tenantId: "default",
  platform: "slack",
  userId: "UANA",
  userEmail: "ana@contoso.com",
};

/**
 * The whole sign-in: chat link → Atom's start (302 to the fake authorize page, state cookie) →
 * the authority (302 back with code and state) → Atom's callback (MSAL redeems the code with the
 * PKCE verifier). Waits for the first sync unless `drain` is false.
 */
export async function connectOneDrive(
  atom: Atom,
  f: MicrosoftFakes,
  request: ConnectRequest = ANA_SLACK,
  opts: { drain?: boolean } = {},
): Promise<{ status: number; html: string }> {
  const provider = atom.connections.provider("microsoft")!;
  const link = await atom.connections.signInLink(provider, request);
  return followSignIn(
    link,
    f,
    (p, init) => atom.app.request(p, init),
    opts.drain === false ? undefined : atom,
  );
}

/** Follows a sign-in link through the authority and back; `request` reaches Atom. */
export async function followSignIn(
  link: string,
  f: MicrosoftFakes,
  request: (pathAndQuery: string, init?: RequestInit) => Promise<Response> | Response,
  drainAtom?: Atom,
): Promise<{ status: number; html: string }> {
  const start = await request(link.replace(/^https?:\/\/[^/]+/, ""));
  if (start.status !== 302) throw new Error(`start answered ${start.status}: ${await start.text()}`);
  const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0]!;
  const authorize = start.headers.get("location")!;
  if (!authorize.startsWith(f.login.url)) throw new Error(`not sent to the fake authority: ${authorize}`);
  const consent = await fetchTrusting(f.login.ca)(authorize, { redirect: "manual" });
  if (consent.status !== 302)
    throw new Error(`authorize answered ${consent.status}: ${await consent.text()}`);
  const back = new URL(consent.headers.get("location")!);
  const done = await request(`${back.pathname}${back.search}`, { headers: { cookie } });
  const html = await done.text();
  if (drainAtom) await drainAtom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
  return { status: done.status, html };
}

/** Syncs every connection now and waits. */
export async function syncAll(atom: Atom): Promise<void> {
  await atom.connections.enqueueAll("manual");
  await atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
}

/** Permissions in Graph's shapes. */
export const perm = {
  owner: (email: string) => ({ roles: ["owner"], grantedToV2: { user: { email, displayName: email } } }),
  user: (email: string) => ({ roles: ["read"], grantedToV2: { user: { email, displayName: email } } }),
  group: (email: string) => ({ roles: ["read"], grantedToV2: { group: { email, displayName: email } } }),
  org: () => ({ roles: ["read"], link: { scope: "organization" as const, type: "view" as const } }),
  anonymous: () => ({ roles: ["read"], link: { scope: "anonymous" as const, type: "view" as const } }),
};
