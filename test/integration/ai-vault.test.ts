import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeyVault, userOwner } from "../../src/ai/vault.ts";
import { AiKeyStore } from "../../src/db/ai-keys.ts";
import { migrate } from "../../src/db/index.ts";
import type { Db } from "../../src/db/types.ts";
import { createSealer, DecryptionError, masterKeyId } from "../../src/security/crypto.ts";
import { testBackends } from "../helpers/memory.ts";

const WORKSPACE_KEY = "sk-proj-workspaceKEY0000000000000000abcd";
const USER_KEY = "sk-proj-personalKEY00000000000000000wxyz";
const ENV_KEY = "sk-env-000000000000000000000000000000env1";

describe.each(testBackends())("key vault on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void>;
  const oldKey = crypto.randomBytes(32);
  const newKey = crypto.randomBytes(32);
  const vault = (master: Buffer, previous: Buffer[] = [], env: Record<string, string> = {}) =>
    new KeyVault({ store: new AiKeyStore(db), sealer: () => createSealer(master, previous), env });

  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop?.();
  });

  it("resolves user → workspace → environment, with base URLs, and shows only the last 4", async () => {
    const v = vault(oldKey, [], { OPENAI_API_KEY: ENV_KEY, OPENAI_BASE_URL: "http://env.example/v1" });
    expect((await v.resolve("T1", "openai"))?.scope).toBe("env");
    expect((await v.resolve("T1", "openai"))?.baseURL).toBe("http://env.example/v1");
    expect(await v.resolve("T1", "anthropic")).toBeUndefined();

    await v.set({ tenantId: "T1", provider: "openai", apiKey: WORKSPACE_KEY, setBy: "slack:UADMIN" });
    await v.setBaseUrl({
      tenantId: "T1",
      provider: "openai",
      baseUrl: "https://proxy.example/v1/",
      setBy: "slack:UADMIN",
    });
    await v.set({
      tenantId: "T1",
      provider: "openai",
      apiKey: USER_KEY,
      owner: userOwner("slack", "U9"),
      setBy: "slack:U9",
    });
    const ws = await v.resolve("T1", "openai", userOwner("slack", "U1"));
    expect(ws).toMatchObject({
      apiKey: WORKSPACE_KEY,
      scope: "workspace",
      baseURL: "https://proxy.example/v1",
      last4: "abcd",
    });
    const mine = await v.resolve("T1", "openai", userOwner("slack", "U9"));
    expect(mine).toMatchObject({ apiKey: USER_KEY, scope: "user", baseURL: "https://proxy.example/v1" });
    // Another tenant sees only the environment key.
    expect((await v.resolve("T2", "openai"))?.apiKey).toBe(ENV_KEY);

    const info = await v.describe("T1");
    expect(JSON.stringify(info)).not.toContain(WORKSPACE_KEY);
    expect(JSON.stringify(info)).not.toContain(USER_KEY);
    expect(info.find((i) => i.owner === "")).toMatchObject({
      last4: "abcd",
      setBy: "slack:UADMIN",
      hasKey: true,
    });

    // The stored value is sealed (no trace of the key) and names the master key.
    const rows = await db.query<{ key_sealed: string }>("SELECT key_sealed FROM ai_keys");
    for (const r of rows.rows) {
      expect(r.key_sealed).not.toContain("KEY0000");
      expect(r.key_sealed.startsWith(`v2.${masterKeyId(oldKey)}.`)).toBe(true);
    }

    // A sealed value copied to another row does not open there.
    const sealed = rows.rows[0]!.key_sealed;
    expect(() => createSealer(oldKey).open(sealed, "ai-key:T2::openai")).toThrow(DecryptionError);

    await v.remove({ tenantId: "T1", provider: "openai", setBy: "slack:UADMIN" });
    const after = await v.resolve("T1", "openai", userOwner("slack", "U1"));
    expect(after).toMatchObject({ scope: "env", apiKey: ENV_KEY, baseURL: "https://proxy.example/v1" });
  });

  it("refuses implausible keys and base URLs without echoing them", async () => {
    const v = vault(oldKey);
    await expect(
      v.set({ tenantId: "T1", provider: "openai", apiKey: "sk- with spaces", setBy: "x" }),
    ).rejects.toThrow(/does not look like an API key/);
    await expect(
      v.setBaseUrl({ tenantId: "T1", provider: "openai", baseUrl: "ftp://x", setBy: "x" }),
    ).rejects.toThrow(/http/);
  });

  it("atom keys rotate: re-seals under the new master key; the old key is then not needed", async () => {
    await vault(oldKey).set({
      tenantId: "T3",
      provider: "anthropic",
      apiKey: "sk-ant-api03-rotateme-0000",
      setBy: "x",
    });
    // Without the previous key the value cannot be opened.
    expect(await vault(newKey).resolve("T3", "anthropic")).toBeUndefined();
    const r = await vault(newKey, [oldKey]).rotate();
    expect(r.resealed).toBeGreaterThanOrEqual(1);
    expect(r.unreadable).toBe(0);
    expect((await vault(newKey).resolve("T3", "anthropic"))?.apiKey).toBe("sk-ant-api03-rotateme-0000");
    const again = await vault(newKey).rotate();
    expect(again.resealed).toBe(0);
  });
});
