import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webApi } from "@slack/bolt";
import { SlackCredentials } from "../../src/adapters/slack/credentials.ts";
import { SlackInstallationRepo } from "../../src/db/slack-installations.ts";
import { migrate, openPglite, openPostgres } from "../../src/db/index.ts";
import type { Db } from "../../src/db/types.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import {
  createSealer,
  DecryptionError,
  KEY_FILE_NAME,
  loadMasterKey,
  parseMasterKey,
} from "../../src/security/crypto.ts";
import { createOAuthStateStore } from "../../src/security/oauth-state.ts";

describe("crypto: AES-256-GCM envelope sealing", () => {
  const key = Buffer.alloc(32, 7);
  it("round-trips, uses a fresh data key each time, and binds the context", () => {
    const s = createSealer(key);
    const a = s.seal("xoxb-secret-token", "slack:T1");
    const b = s.seal("xoxb-secret-token", "slack:T1");
    expect(a).not.toBe(b);
    expect(a).not.toContain("xoxb");
    expect(a.startsWith("v2.")).toBe(true);
    expect(s.open(a, "slack:T1")).toBe("xoxb-secret-token");
    expect(() => s.open(a, "slack:T2")).toThrow(DecryptionError);
    expect(() => createSealer(Buffer.alloc(32, 8)).open(a, "slack:T1")).toThrow(DecryptionError);
    const parts = a.split(".");
    parts[4] = Buffer.from("tampered").toString("base64url");
    expect(() => s.open(parts.join("."), "slack:T1")).toThrow(DecryptionError);
    expect(() => s.open("garbage", "slack:T1")).toThrow(/not an encrypted value/);
  });

  it("parses hex and base64 keys and refuses others without echoing them", () => {
    expect(parseMasterKey("ab".repeat(32))).toHaveLength(32);
    expect(parseMasterKey(Buffer.alloc(32, 1).toString("base64"))).toHaveLength(32);
    expect(() => parseMasterKey("short-secret-value")).toThrow(/ATOM_ENCRYPTION_KEY/);
    try {
      parseMasterKey("short-secret-value");
    } catch (err) {
      expect((err as Error).message).not.toContain("short-secret-value");
    }
  });

  it("generates the key once into the data dir with mode 0600 and a warning", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-key-"));
    try {
      const warnings: string[] = [];
      const logger = { warn: (_o: unknown, m: string) => warnings.push(m) } as unknown as typeof silentLogger;
      const k1 = loadMasterKey({ dataDir: dir, logger });
      const file = path.join(dir, KEY_FILE_NAME);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/ATOM_ENCRYPTION_KEY/);
      const k2 = loadMasterKey({ dataDir: dir, logger });
      expect(k2.equals(k1)).toBe(true);
      expect(warnings).toHaveLength(1);
      const fromEnv = loadMasterKey({ envKey: "cd".repeat(32), dataDir: dir });
      expect(fromEnv.equals(Buffer.from("cd".repeat(32), "hex"))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const PG_URL = process.env.TEST_DATABASE_URL;
const backends: { name: string; open: () => Promise<{ db: Db; drop: () => Promise<void> }> }[] = [
  {
    name: "PGlite",
    open: async () => {
      const db = await openPglite("memory://");
      return { db, drop: async () => {} };
    },
  },
];
if (PG_URL) {
  backends.push({
    name: "PostgreSQL",
    open: async () => {
      const schema = `t_slack_${process.pid}_${Date.now().toString(36)}`;
      const admin = await openPostgres(PG_URL);
      await admin.exec(`CREATE SCHEMA ${schema}`);
      const sep = PG_URL.includes("?") ? "&" : "?";
      const db = await openPostgres(
        `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      );
      return {
        db,
        drop: async () => {
          await admin.exec(`DROP SCHEMA ${schema} CASCADE`);
          await admin.close();
        },
      };
    },
  });
}

describe.each(backends)("OAuth state store and Slack installations ($name)", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it("accepts a state once, from the issuing browser, before it expires", async () => {
    const store = createOAuthStateStore(db, { secret: "k", ttlMs: 60_000 });
    const a = await store.issue("slack", { next: "/" });
    expect(await store.consume("slack", a.state, a.browserToken)).toEqual({ ok: true, data: { next: "/" } });
    expect(await store.consume("slack", a.state, a.browserToken)).toEqual({ ok: false, reason: "unknown" });
    const b = await store.issue("slack");
    expect(await store.consume("slack", b.state, "another-browser")).toEqual({
      ok: false,
      reason: "other_browser",
    });
    expect(await store.consume("slack", undefined, b.browserToken)).toEqual({ ok: false, reason: "missing" });
    const c = await store.issue("google");
    expect(await store.consume("slack", c.state, c.browserToken)).toEqual({ ok: false, reason: "unknown" });
    const short = createOAuthStateStore(db, { secret: "k", ttlMs: 1 });
    const d = await short.issue("slack");
    await new Promise((r) => setTimeout(r, 20));
    expect(await short.consume("slack", d.state, d.browserToken)).toEqual({ ok: false, reason: "expired" });
    const stored = await db.query<{ state_hash: string }>("SELECT state_hash FROM oauth_states");
    for (const row of stored.rows) expect(row.state_hash).not.toBe(c.state);
  });

  it("stores tokens sealed and refreshes a rotating token once, under a lock", async () => {
    let refreshes = 0;
    const sealer = createSealer(Buffer.alloc(32, 3));
    const credentials = () =>
      new SlackCredentials({
        logger: silentLogger,
        installations: {
          repo: new SlackInstallationRepo(db),
          sealer,
          client: new webApi.WebClient(undefined, { slackApiUrl: "http://127.0.0.1:9/api/" }),
          refresh: async (rt) => {
            refreshes += 1;
            expect(rt).toMatch(/^xoxe-1-refresh-(a|c)$/);
            await new Promise((r) => setTimeout(r, 50));
            return {
              botToken: rt === "xoxe-1-refresh-a" ? "xoxe.xoxb-new" : "xoxe.xoxb-scan",
              refreshToken: rt === "xoxe-1-refresh-a" ? "xoxe-1-refresh-b" : "xoxe-1-refresh-d",
              expiresIn: 43_200,
            };
          },
        },
      });
    const store = credentials();
    await store.save({
      tenantId: "slack:TR",
      teamId: "TR",
      scopes: "chat:write",
      botToken: "xoxe.xoxb-old",
      refreshToken: "xoxe-1-refresh-a",
      tokenExpiresAt: new Date(Date.now() + 60_000),
    });
    const raw = await db.query<{ bot_token_sealed: string }>(
      "SELECT bot_token_sealed FROM slack_installations",
    );
    expect(raw.rows[0]?.bot_token_sealed).not.toContain("xoxb");
    const [a, b] = await Promise.all([store.forTenant("slack:TR"), store.forTenant("slack:TR")]);
    expect(a?.token).toBe("xoxe.xoxb-new");
    expect(b?.token).toBe("xoxe.xoxb-new");
    expect(refreshes).toBe(1);
    // Another process (no cache) reads the rotated tokens.
    expect((await credentials().installation("slack:TR"))?.refreshToken).toBe("xoxe-1-refresh-b");

    // The background scan refreshes a token that expires within two hours, before anyone uses it.
    await store.save({
      tenantId: "slack:TS",
      teamId: "TS",
      scopes: "chat:write",
      botToken: "xoxe.xoxb-soon",
      refreshToken: "xoxe-1-refresh-c",
      tokenExpiresAt: new Date(Date.now() + 3600_000),
    });
    await store.refreshExpiring();
    expect(refreshes).toBe(2);
    expect((await credentials().installation("slack:TS"))?.botToken).toBe("xoxe.xoxb-scan");

    await store.markBroken("slack:TR", "invalid_auth");
    expect((await store.installation("slack:TR"))?.status).toBe("broken");
    await store.delete("slack:TR");
    expect(await store.installation("slack:TR")).toBeUndefined();
    await store.delete("slack:TS");
  });
});
