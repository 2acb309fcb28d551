import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackTokenContext } from "../../src/adapters/slack/credentials.ts";
import { KeyVault, userOwner } from "../../src/ai/vault.ts";
import { run } from "../../src/cli.ts";
import { rotateSealedSecrets } from "../../src/cli/keys-rotate.ts";
import { pkceSealContext } from "../../src/connections/oauth-routes.ts";
import { ConnectionTokens } from "../../src/connections/tokens.ts";
import { AiKeyStore } from "../../src/db/ai-keys.ts";
import { ConnectionStore } from "../../src/db/connections.ts";
import { migrate, openPglite } from "../../src/db/index.ts";
import { SlackInstallationRepo } from "../../src/db/slack-installations.ts";
import type { Db } from "../../src/db/types.ts";
import { createSealer } from "../../src/security/crypto.ts";
import { createOAuthStateStore } from "../../src/security/oauth-state.ts";
import { testBackends } from "../helpers/memory.ts";

const oldKey = crypto.randomBytes(32);
const newKey = crypto.randomBytes(32);
const SECRETS = {
  workspace: "sk-proj-rotateWORKSPACE000000000000000001",
  personal: "sk-ant-api03-rotatePERSONAL0000000000002",
  google: "ya29.rotate-google-access-token-0003",
  msal: '{"RefreshToken":{"x":{"secret":"M.rotate-msal-refresh-0004"}}}',
  slackBot: "xoxb-rotate-bot-token-0005",
  slackRefresh: "xoxe-1-rotate-refresh-0006",
  verifier: "rotate-pkce-verifier-0007-abcdefghijklmnopqrstuvwxyz",
};

/** Stores one secret of every sealed kind under `master` (with the code paths Atom uses). */
async function seed(
  db: Db,
  master: Buffer,
): Promise<{ googleId: string; microsoftId: string; state: string }> {
  const sealer = createSealer(master);
  const vault = new KeyVault({ store: new AiKeyStore(db), sealer: () => sealer, env: {} });
  await vault.set({ tenantId: "T1", provider: "openai", apiKey: SECRETS.workspace, setBy: "admin" });
  await vault.set({
    tenantId: "T1",
    provider: "anthropic",
    apiKey: SECRETS.personal,
    setBy: "slack:U1",
    owner: userOwner("slack", "U1"),
  });
  const store = new ConnectionStore(db);
  const tokens =
    (access: string, extra: Record<string, unknown> = {}) =>
    (id: string) =>
      sealer.seal(
        JSON.stringify({ accessToken: access, expiresAt: Date.now() + 3600_000, ...extra }),
        `connection:${id}`,
      );
  const google = await store.upsert({
    tenantId: "T1",
    provider: "google",
    ownerPlatform: "slack",
    ownerUserId: "U1",
    tokensSealed: tokens(SECRETS.google),
  });
  const microsoft = await store.upsert({
    tenantId: "T1",
    provider: "microsoft",
    ownerPlatform: "slack",
    ownerUserId: "U1",
    tokensSealed: tokens("eyJ.rotate-ms-access", { msalCache: SECRETS.msal, homeAccountId: "h" }),
  });
  await new SlackInstallationRepo(db).save({
    tenantId: "slack:T9",
    teamId: "T9",
    scopes: "chat:write",
    botTokenSealed: sealer.seal(SECRETS.slackBot, slackTokenContext("slack:T9")),
    refreshTokenSealed: sealer.seal(SECRETS.slackRefresh, slackTokenContext("slack:T9")),
  });
  const states = createOAuthStateStore(db, { secret: "s" });
  const { state } = await states.issue("google", {
    verifier: sealer.seal(SECRETS.verifier, pkceSealContext("google")),
  });
  return { googleId: google.connection.id, microsoftId: microsoft.connection.id, state };
}

/** Every sealed value as stored (to compare before/after). */
async function dump(db: Db): Promise<string> {
  const a = await db.query("SELECT key_sealed FROM ai_keys ORDER BY owner, provider");
  const c = await db.query("SELECT tokens_sealed FROM connections ORDER BY id");
  const s = await db.query("SELECT bot_token_sealed, refresh_token_sealed FROM slack_installations");
  const o = await db.query("SELECT data FROM oauth_states");
  return JSON.stringify([a.rows, c.rows, s.rows, o.rows]);
}

describe.each(testBackends())("atom keys rotate on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void>;
  let ids: Awaited<ReturnType<typeof seed>>;

  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
    ids = await seed(db, oldKey);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it("refuses to change anything while a value cannot be opened (old key not given)", async () => {
    const before = await dump(db);
    const r = await rotateSealedSecrets(db, createSealer(newKey));
    expect(r.committed).toBe(false);
    expect(r.counts.every((c) => c.resealed === 0)).toBe(true);
    expect(r.counts.find((c) => c.kind === "Slack installation tokens")?.unreadable).toBe(2);
    expect(await dump(db)).toBe(before);
    expect(JSON.stringify(r)).not.toContain("rotate-");
  });

  it("re-seals every kind in one go; afterwards the new key alone opens everything", async () => {
    const r = await rotateSealedSecrets(db, createSealer(newKey, [oldKey]));
    expect(r.committed).toBe(true);
    const by = Object.fromEntries(r.counts.map((c) => [c.kind, c]));
    expect(by["AI keys (workspace)"]).toMatchObject({ resealed: 1, unreadable: 0 });
    expect(by["AI keys (personal)"]).toMatchObject({ resealed: 1, unreadable: 0 });
    expect(by["connection tokens (google)"]).toMatchObject({ resealed: 1 });
    expect(by["connection tokens (microsoft, MSAL cache)"]).toMatchObject({ resealed: 1 });
    expect(by["Slack installation tokens"]).toMatchObject({ resealed: 2 });
    expect(by["sign-ins under way (PKCE verifiers)"]).toMatchObject({ resealed: 1 });
    // Nothing in the database still names the old key.
    expect(await dump(db)).not.toContain(`v2.${createSealer(oldKey).keyId}.`);

    // The previous key is gone: every reader opens its value with the new key only.
    const only = createSealer(newKey);
    const vault = new KeyVault({ store: new AiKeyStore(db), sealer: () => only, env: {} });
    expect((await vault.resolve("T1", "openai"))?.apiKey).toBe(SECRETS.workspace);
    expect((await vault.resolve("T1", "anthropic", userOwner("slack", "U1")))?.apiKey).toBe(SECRETS.personal);
    const store = new ConnectionStore(db);
    const noRefresh = async () => {
      throw new Error("no refresh expected");
    };
    expect(await new ConnectionTokens(ids.googleId, store, only, noRefresh).get()).toBe(SECRETS.google);
    const ms = await store.tokens(ids.microsoftId);
    expect(JSON.parse(only.open(ms!.tokensSealed, `connection:${ids.microsoftId}`)).msalCache).toBe(
      SECRETS.msal,
    );
    const slack = (await new SlackInstallationRepo(db).list())[0]!;
    expect(only.open(slack.botTokenSealed, slackTokenContext("slack:T9"))).toBe(SECRETS.slackBot);
    expect(only.open(slack.refreshTokenSealed!, slackTokenContext("slack:T9"))).toBe(SECRETS.slackRefresh);
    const o = await db.query<{ v: string }>("SELECT data->>'verifier' AS v FROM oauth_states");
    expect(only.open(o.rows[0]!.v, pkceSealContext("google"))).toBe(SECRETS.verifier);

    // A second run has nothing left to do.
    const again = await rotateSealedSecrets(db, only);
    expect(again.counts.every((c) => c.resealed === 0 && c.unreadable === 0)).toBe(true);
    expect(again.counts.reduce((n, c) => n + c.current, 0)).toBe(7);
  });
});

describe("the atom keys rotate command", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-rotate-"));
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("prints counts per kind, exits 1 without the old key and 0 with it", async () => {
    const db = await openPglite(path.join(dir, "pglite"));
    await migrate(db);
    await seed(db, oldKey);
    await db.close();
    const runCli = async (env: Record<string, string>) => {
      const out: string[] = [];
      const err: string[] = [];
      process.env = { ...saved, ATOM_DATA_DIR: dir, LOG_LEVEL: "silent", ...env };
      delete process.env.DATABASE_URL;
      const code = await run(["keys", "rotate"], {
        stdout: { write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream,
        stderr: { write: (s: string) => err.push(s) } as unknown as NodeJS.WriteStream,
        stdin: process.stdin,
      });
      return { code, out: out.join(""), err: err.join("") };
    };
    const refused = await runCli({ ATOM_ENCRYPTION_KEY: newKey.toString("hex") });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/nothing was changed/);
    expect(refused.out).toMatch(/Slack installation tokens: 0 re-encrypted, 0 already current, 2 unreadable/);
    const done = await runCli({
      ATOM_ENCRYPTION_KEY: newKey.toString("hex"),
      ATOM_ENCRYPTION_KEY_PREVIOUS: oldKey.toString("hex"),
    });
    expect(done.code).toBe(0);
    expect(done.out).toMatch(/AI keys \(workspace\): 1 re-encrypted/);
    expect(done.out).toMatch(/connection tokens \(microsoft, MSAL cache\): 1 re-encrypted/);
    expect(done.out).toMatch(/sign-ins under way \(PKCE verifiers\): 1 re-encrypted/);
    expect(done.out + done.err).not.toMatch(/rotate-|xox[be]-|sk-/);
    const after = await runCli({ ATOM_ENCRYPTION_KEY: newKey.toString("hex") });
    expect(after.code).toBe(0);
    expect(after.out).toMatch(/Slack installation tokens: 0 re-encrypted, 2 already current, 0 unreadable/);
  }, 120_000);
});
