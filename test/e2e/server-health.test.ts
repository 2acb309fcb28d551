import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FOLDER_SYNC_QUEUE, type RunningServer, startServer } from "../../src/main.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { HANDBOOK_DIR, HAS_HANDBOOK, tempDir } from "../helpers/memory.ts";

describe("atom serve: health, readiness, metrics", () => {
  let dataDir: string;
  let docsDir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dataDir = tempDir("atom-serve-");
    docsDir = tempDir("atom-serve-docs-");
    fs.writeFileSync(`${docsDir}/welcome.md`, "# Welcome\n\nThe kiwi is the office mascot.");
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      ATOM_DOCS_DIR: docsDir,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
    });
    server = await startServer(config, { logger: createLogger("silent") });
    await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await server?.close();
    for (const d of [dataDir, docsDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it("listens on a free port and keeps its embedded stores under ATOM_DATA_DIR", () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(fs.existsSync(`${dataDir}/pglite`)).toBe(true);
    expect(fs.existsSync(`${dataDir}/lancedb`)).toBe(true);
  });

  it("indexed ATOM_DOCS_DIR into the default tenant at start", async () => {
    const [status] = await server.atom.memory.status("default");
    expect(status).toMatchObject({ kind: "folder", documents: 1, lastStatus: "ok" });
    const hits = await server.atom.memory.search("kiwi mascot", {
      tenantId: "default",
      principals: ["anyone"],
    });
    expect(hits.hits.map((h) => h.doc.uri)).toEqual(["welcome.md"]);
  });

  it("answers /healthz and /readyz with 200", async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(body.ok).toBe(true);
    expect(body.checks.map((c) => c.name).sort()).toEqual(["database", "docs", "memory"]);
    expect(body.checks.find((c) => c.name === "docs")).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/^synced at /),
    });
  });

  it("serves Prometheus metrics", async () => {
    // One answered question shows up in the counters.
    await server.atom.bot.handle({
      platform: "console",
      tenantId: "default",
      channelId: "c",
      threadId: "t",
      messageId: "m",
      userId: "u",
      text: "who is the office mascot?",
      files: [],
      isDirect: true,
      mentionsBot: true,
      visibility: "thread",
    });
    const r = await fetch(`${server.url}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await r.text();
    expect(text).toMatch(/^# HELP /m);
    expect(text).toMatch(/^# TYPE \S+ (counter|histogram|gauge)/m);
    expect(text).toMatch(/intent="ask"/);
  });

  it("answers unknown paths with a JSON 404", async () => {
    const r = await fetch(`${server.url}/no-such-page`);
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: "not found" });
  });

  it("reports 503 naming the database once it is closed, while /healthz stays 200", async () => {
    await server.atom.db.close();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { ok: boolean; failing: string[] };
    expect(body.ok).toBe(false);
    expect(body.failing).toEqual(["database"]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe.skipIf(!HAS_HANDBOOK)("atom serve with a large docs folder", () => {
  it("listens and answers health checks before the first sync of the folder ends", async () => {
    const dataDir = tempDir("atom-serve-big-");
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      ATOM_DOCS_DIR: HANDBOOK_DIR,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
    });
    const server = await startServer(config, { logger: createLogger("silent") });
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as {
        ok: boolean;
        checks: { name: string; detail?: string }[];
      };
      // The sync still runs: the process is ready, the docs part says so.
      expect(ready.ok).toBe(true);
      expect(ready.checks.find((c) => c.name === "docs")?.detail).toBe("first sync in progress");
      await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 120_000 });
      const [status] = await server.atom.memory.status("default");
      expect(status?.documents).toBeGreaterThan(800);
    } finally {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
