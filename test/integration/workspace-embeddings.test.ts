/**
 * Embeddings with a workspace key (issue 12, item 6), composed as `atom serve` composes them
 * (createAtom: key vault, settings, durable `embed` queue, memory) with the real `openai` SDK
 * against the loopback fake, whose two test models have different dimensions (32 and 96):
 * hybrid per workspace, tenant isolation, re-embedding on a model change while searches keep the
 * old vectors, key removal, deletes and updates, usage and the monthly cap, `status` coverage.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EMBED_QUEUE } from "../../src/ai/embeddings.ts";
import { runEmbedRound } from "../../src/ai/embed-job.ts";
import { embeddingStatusLines } from "../../src/ai/status.ts";
import { loadConfig } from "../../src/config.ts";
import { type Atom, createAtom } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type FakeOpenAi, startFakeOpenAi } from "./fakes/openai.ts";

const SMALL = "fake-small-32";
const LARGE = "fake-large-96";
const KEY_A = "sk-workspace-A-000000000000000000000aaaa";
const DOCS: Record<string, string> = {
  "finance/invoices.md":
    "# Invoice handling\n\nThe finance team relies on automation to route every supplier invoice to its approver.",
  "people/parental-leave.md":
    "# Parental leave\n\nEmployees receive sixteen weeks of paid parental leave after the birth of a child.",
  "it/laptops.md": "# Laptops\n\nEvery new hire gets a laptop on the first day.",
  "office/plants.md": "# Office plants\n\nThe plants in the kitchen are watered on Mondays.",
};
/** Shares no word (nor stem) with any document; the fake's vectors put it near "automation". */
const BY_MEANING = "automatic";

let fake: FakeOpenAi;
let tmp: string;
let atom: Atom;
let seq = 0;
let A = "";
let B = "";

// One process for the file (composing Atom takes long on a busy machine); each test has its
// own tenants.
beforeAll(async () => {
  fake = await startFakeOpenAi({ models: { [SMALL]: 32, [LARGE]: 96 } });
  fake.acceptKey(KEY_A);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "atom-ws-emb-"));
  const env = {
    ATOM_DATA_DIR: path.join(tmp, "data"),
    LOG_LEVEL: "silent",
    PUBLIC_URL: "https://atom.example.com",
  };
  atom = await createAtom(loadConfig(env), {
    adapters: false,
    logger: silentLogger,
  });
  atom.embeddings.cacheMs = 0;
  atom.jobs.start();
}, 180_000);
afterAll(async () => {
  await atom?.close();
  await fake.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  fake.reset();
  fake.failInputsContaining(undefined);
  seq++;
  A = `TA${seq}`;
  B = `TB${seq}`;
});
afterEach(() => {
  atom.jobs.start();
});

/**
 * Runs `fn` with environment settings changed in the running process (the vault and the cap read
 * `config.env` on every call), then restores them.
 */
async function withEnv(env: Record<string, unknown>, fn: () => Promise<void>): Promise<void> {
  const target = atom.config.env as Record<string, unknown>;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, target[k]]));
  Object.assign(target, env);
  try {
    await fn();
  } finally {
    Object.assign(target, saved);
  }
}

function folder(name: string, docs: Record<string, string> = DOCS): string {
  const dir = path.join(tmp, `${name}-${seq}`);
  for (const [rel, text] of Object.entries(docs)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** What an admin does on the settings page: workspace key, base URL, embedding model. */
async function setWorkspaceKey(a: Atom, tenantId: string, model = SMALL): Promise<void> {
  await a.ai.vault.set({ tenantId, provider: "openai", apiKey: KEY_A, setBy: "slack:UADMIN" });
  await a.ai.vault.setBaseUrl({ tenantId, provider: "openai", baseUrl: fake.url, setBy: "slack:UADMIN" });
  await a.ai.vault.store.putSettings(tenantId, { embeddingModel: model }, "slack:UADMIN");
  a.embeddings.changed(tenantId);
}

const drain = (a: Atom = atom) => a.jobs.drain({ queues: [EMBED_QUEUE], timeoutMs: 30_000 });
const search = (tenantId: string, q = BY_MEANING, a: Atom = atom) =>
  a.memory.search(q, { tenantId, principals: ["anyone"] });

/** A direct message of the workspace admin to Atom. */
const dm = (tenantId: string, text: string) =>
  atom.bot.handle({
    platform: "slack",
    tenantId,
    channelId: "D-admin",
    threadId: `th-${seq}-${text}`,
    messageId: `m-${seq}-${text}`,
    userId: "UADMIN",
    text,
    files: [],
    isDirect: true,
    mentionsBot: true,
    visibility: "thread",
    userIsAdmin: true,
  });

/** Waits until `check` holds (background retries run after a backoff the drain does not wait for). */
async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("a workspace key turns on hybrid search for that workspace only", () => {
  it("hybrid for A (its key, its model), full text for B; tenants never mix; usage counted; status", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await atom.memory.syncFolder(folder("b"), { tenantId: B });
    await drain();
    expect(fake.calls).toHaveLength(0); // no key anywhere: no embedding at all
    expect((await search(A)).mode).toBe("fts");

    await setWorkspaceKey(atom, A);
    await drain();
    const a = await search(A);
    expect(a.mode).toBe("hybrid");
    expect(a.hits[0]?.doc.uri).toBe("finance/invoices.md");
    const b = await search(B);
    expect(b.mode).toBe("fts");
    expect(b.hits).toEqual([]);
    // Every request carried A's key and A's model; no vector of B exists in any space.
    expect(fake.calls.length).toBeGreaterThan(0);
    expect(fake.calls.every((c) => c.authorization === `Bearer ${KEY_A}` && c.model === SMALL)).toBe(true);
    for (const table of await atom.memory.store.vectors.names()) {
      expect(await atom.memory.store.vectors.count(table, B)).toBe(0);
    }
    const chunks = await atom.memory.store.count(`tenant_id = '${A}'`);
    const state = await atom.embeddings.spaces.get(A);
    expect(state.active).toMatchObject({ model: SMALL, dims: 32, baseUrl: fake.url });
    expect(await atom.memory.store.vectors.count(state.active!.table, A)).toBe(chunks);

    // Usage: the tokens the provider reported, on A's month only.
    await new Promise((r) => setTimeout(r, 100));
    const usageA = await atom.ai.vault.store.usage(A);
    expect(usageA.find((u) => u.provider === "openai")?.inputTokens).toBe(fake.embeddingTokens);
    expect(await atom.ai.vault.store.usage(B)).toEqual([]);

    expect(await embeddingStatusLines(atom.embeddings, A)).toEqual([
      `Search: hybrid (full text + vectors) — vectors: ${chunks}/${chunks} chunks, model ${SMALL}`,
    ]);
    expect((await embeddingStatusLines(atom.embeddings, B))[0]).toMatch(/full text only/);
    // The `status` command carries the same lines.
    expect((await dm(A, "status")).text).toContain(`vectors: ${chunks}/${chunks} chunks, model ${SMALL}`);
  });

  it("the environment key gives every tenant hybrid search, each in its own rows", async () => {
    const env = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, OPENAI_EMBEDDING_MODEL: SMALL };
    await withEnv(env, async () => {
      await atom.memory.syncFolder(folder("a"), { tenantId: A });
      await atom.memory.syncFolder(folder("b", { "secret.md": "# Automation roadmap\n\nTenant B only." }), {
        tenantId: B,
      });
      await drain();
      expect((await search(A)).hits.map((h) => h.doc.uri)).not.toContain("secret.md");
      expect((await search(B)).hits.map((h) => h.doc.uri)).toEqual(["secret.md"]);
      expect((await search(A)).mode).toBe("hybrid");
      expect(fake.calls.every((c) => c.authorization === `Bearer ${fake.apiKey}`)).toBe(true);
    });
  });
});

describe("changing the embedding model", () => {
  it("re-embeds in the background, answers from the old vectors meanwhile, then switches (32 → 96 dimensions)", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await setWorkspaceKey(atom, A, SMALL);
    await drain();
    const small = (await atom.embeddings.spaces.get(A)).active!;
    expect(small.dims).toBe(32);

    // The new model fails part-way: the round stops with the new space incomplete.
    fake.failInputsContaining("Parental leave");
    await atom.ai.vault.store.putSettings(A, { embeddingModel: LARGE }, "slack:UADMIN");
    atom.embeddings.changed(A);
    await until(async () => fake.calls.some((c) => c.model === LARGE && c.status === 500));
    const during = await atom.embeddings.spaces.get(A);
    expect(during.active).toMatchObject({ model: SMALL, dims: 32 });
    expect(during.building).toMatchObject({ model: LARGE, dims: 96 });

    // Searches meanwhile: hybrid, the query embedded with the OLD model, no dimension error.
    fake.reset();
    fake.failInputsContaining("Parental leave");
    const meanwhile = await search(A);
    expect(meanwhile.mode).toBe("hybrid");
    expect(meanwhile.hits[0]?.doc.uri).toBe("finance/invoices.md");
    expect(fake.calls.filter((c) => c.inputs === 1).map((c) => c.model)).toEqual([SMALL]);
    const lines = await embeddingStatusLines(atom.embeddings, A);
    expect(lines.join("\n")).toMatch(
      new RegExp(`Re-embedding with ${LARGE}: \\d+/\\d+ chunks; searches use ${SMALL}`),
    );

    // The provider recovers: the queued retry completes the new space and switches.
    fake.failInputsContaining(undefined);
    await until(async () => (await atom.embeddings.spaces.get(A)).active?.model === LARGE);
    await drain();
    const after = await atom.embeddings.spaces.get(A);
    expect(after.active).toMatchObject({ model: LARGE, dims: 96 });
    expect(after.building).toBeUndefined();
    const chunks = await atom.memory.store.count(`tenant_id = '${A}'`);
    expect(await atom.memory.store.vectors.count(after.active!.table, A)).toBe(chunks);
    // The old model's vectors of A are gone.
    expect(await atom.memory.store.vectors.count(small.table, A)).toBe(0);
    fake.reset();
    const now = await search(A);
    expect(now.mode).toBe("hybrid");
    expect(now.hits[0]?.doc.uri).toBe("finance/invoices.md");
    expect(fake.calls.map((c) => c.model)).toEqual([LARGE]);
  });

  it("changing back before the new space is complete keeps the old one and drops the partial one", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await setWorkspaceKey(atom, A, SMALL);
    await drain();
    await atom.jobs.stop(); // run rounds by hand
    await atom.ai.vault.store.putSettings(A, { embeddingModel: LARGE }, "slack:UADMIN");
    fake.failInputsContaining("Parental leave");
    await expect(runEmbedRound(atom.embeddings, A)).rejects.toThrow(/500/);
    const partial = (await atom.embeddings.spaces.get(A)).building!;
    expect(await atom.memory.store.vectors.count(partial.table, A)).toBeGreaterThanOrEqual(0);
    fake.failInputsContaining(undefined);
    await atom.ai.vault.store.putSettings(A, { embeddingModel: SMALL }, "slack:UADMIN");
    expect(await runEmbedRound(atom.embeddings, A)).toMatchObject({ status: "ready", switched: false });
    const state = await atom.embeddings.spaces.get(A);
    expect(state.active?.model).toBe(SMALL);
    expect(state.building).toBeUndefined();
    expect(await atom.memory.store.vectors.count(partial.table, A)).toBe(0);
  });
});

describe("removing the key", () => {
  it("returns to full-text search at once with no error; the round drops the vectors", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await setWorkspaceKey(atom, A);
    await drain();
    const table = (await atom.embeddings.spaces.get(A)).active!.table;
    await atom.ai.vault.remove({ tenantId: A, provider: "openai", setBy: "slack:UADMIN" });
    atom.embeddings.changed(A);
    const r = await search(A, "parental leave");
    expect(r.mode).toBe("fts");
    expect(r.hits[0]?.doc.uri).toBe("people/parental-leave.md");
    await drain();
    const state = await atom.embeddings.spaces.get(A);
    expect(state.active).toBeUndefined();
    expect(state.building).toBeUndefined();
    expect(await atom.memory.store.vectors.count(table, A)).toBe(0);
    expect((await embeddingStatusLines(atom.embeddings, A))[0]).toMatch(/full text only/);
  });
});

describe("turning embeddings off while keeping the key", () => {
  it("the embedding model “off” searches by full text at once; the round drops the vectors", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await setWorkspaceKey(atom, A);
    await drain();
    const table = (await atom.embeddings.spaces.get(A)).active!.table;
    await atom.ai.vault.store.putSettings(A, { embeddingModel: "off" }, "slack:UADMIN");
    atom.embeddings.changed(A);
    fake.reset();
    expect((await search(A)).mode).toBe("fts");
    expect(fake.calls).toHaveLength(0);
    await drain();
    expect((await atom.embeddings.spaces.get(A)).active).toBeUndefined();
    expect(await atom.memory.store.vectors.count(table, A)).toBe(0);
    expect(fake.calls).toHaveLength(0);
    expect((await embeddingStatusLines(atom.embeddings, A))[0]).toMatch(/embeddings are turned off/);
    // The key still answers: it is resolved as before.
    expect((await atom.ai.service.answerModel(A))?.key.last4).toBe(KEY_A.slice(-4));
  });
});

describe("deletes and updates keep vectors consistent", () => {
  it("a deleted document's vectors go with it; an updated one answers by full text until re-embedded", async () => {
    const dir = folder("a");
    await atom.memory.syncFolder(dir, { tenantId: A });
    await setWorkspaceKey(atom, A);
    await drain();
    const table = (await atom.embeddings.spaces.get(A)).active!.table;
    const before = await atom.memory.store.vectors.count(table, A);

    await atom.jobs.stop(); // nothing re-embeds until we say so
    fs.rmSync(path.join(dir, "finance/invoices.md"));
    fs.writeFileSync(
      path.join(dir, "it/laptops.md"),
      "# Laptops\n\nLaptops are refreshed every three years; automation orders the replacement.",
    );
    await atom.memory.syncFolder(dir, { tenantId: A });
    const ids = await atom.memory.store.vectors.ids(table, A);
    expect([...ids].some((id) => id.includes("finance/invoices.md"))).toBe(false);
    expect([...ids].some((id) => id.includes("it/laptops.md"))).toBe(false);
    expect(ids.size).toBeLessThan(before);
    // The deleted document never surfaces by meaning; the updated one is found by its new words.
    const r = await search(A);
    expect(r.hits.map((h) => h.doc.uri)).not.toContain("finance/invoices.md");
    expect((await search(A, "refreshed three years")).hits[0]?.doc.uri).toBe("it/laptops.md");

    await runEmbedRound(atom.embeddings, A);
    const after = await atom.memory.store.vectors.ids(table, A);
    expect([...after].some((id) => id.includes("it/laptops.md"))).toBe(true);
    expect(after.size).toBe(await atom.memory.store.count(`tenant_id = '${A}'`));
    expect((await search(A)).hits[0]?.doc.uri).toBe("it/laptops.md");
  });
});

describe("the monthly token cap", () => {
  it("over the cap no new embeddings are made and full-text search still answers", async () => {
    await withEnv({ ATOM_MONTHLY_TOKEN_CAP: 1000 }, async () => {
      await atom.memory.syncFolder(folder("a"), { tenantId: A });
      await atom.ai.vault.store.addUsage({ tenantId: A, provider: "openai", inputTokens: 1000 });
      await setWorkspaceKey(atom, A);
      await drain();
      expect(fake.calls).toHaveLength(0);
      const r = await search(A, "parental leave");
      expect(r.mode).toBe("fts");
      expect(r.hits[0]?.doc.uri).toBe("people/parental-leave.md");
      expect((await embeddingStatusLines(atom.embeddings, A)).join("\n")).toMatch(/monthly token cap/);
      // A tenant below the cap is not affected.
      await atom.memory.syncFolder(folder("b"), { tenantId: B });
      await setWorkspaceKey(atom, B);
      await drain();
      expect((await search(B)).mode).toBe("hybrid");
    });
    // Over the cap with vectors already built: searches stop embedding queries too.
    await withEnv({ ATOM_MONTHLY_TOKEN_CAP: 1 }, async () => {
      fake.reset();
      const r = await search(B, "parental leave");
      expect(r.mode).toBe("fts");
      expect(fake.calls).toHaveLength(0);
    });
  });
});

describe("the settings page", () => {
  it("saving another embedding model re-embeds in the background and switches", async () => {
    await atom.memory.syncFolder(folder("a"), { tenantId: A });
    await setWorkspaceKey(atom, A, SMALL);
    await drain();
    const reply = await dm(A, "settings");
    const link = new URL(/https:\/\/atom\.example\.com\/settings\?link=\S+/.exec(reply.text)![0]);
    const opened = await atom.app.request(`${link.pathname}${link.search}`);
    const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0]!;
    const html = await (await atom.app.request("/settings", { headers: { cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const saved = await atom.app.request("/settings/models", {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, embeddingModel: LARGE }).toString(),
    });
    expect(saved.status).toBe(200);
    expect(await saved.text()).toMatch(new RegExp(`Re-embedding with ${LARGE}|model ${SMALL}`));
    await until(async () => (await atom.embeddings.spaces.get(A)).active?.model === LARGE);
    const after = await (await atom.app.request("/settings", { headers: { cookie } })).text();
    expect(after).toContain(`model ${LARGE}`);
    expect((await search(A)).mode).toBe("hybrid");
  });
});
