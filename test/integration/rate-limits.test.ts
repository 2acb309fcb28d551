import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import { createRateLimiter } from "../../src/core/rate-limits.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import { type Atom, createAtom } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { registry } from "../../src/observability/metrics.ts";
import { sample } from "../helpers/metrics.ts";
import { testBackends } from "../helpers/memory.ts";

describe.each(testBackends())("rate limits shared by replicas on $name", (backend) => {
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

  it("two replicas count into one window per user and per workspace; a new window starts fresh", async () => {
    let t = Date.parse("2030-01-01T10:00:00Z");
    const settings = {
      questionsPerUser: 3,
      questionsPerWorkspace: 5,
      transcriptionsPerUser: 1,
      transcriptionsPerWorkspace: 0,
    };
    const [a, b] = [0, 1].map(() => createRateLimiter({ db, logger: silentLogger, settings, now: () => t }));
    const ana = { tenantId: "w1", platform: "slack", userId: "UANA" };
    const ben = { tenantId: "w1", platform: "slack", userId: "UBEN" };
    expect((await a!.check("question", ana)).ok).toBe(true);
    expect((await b!.check("question", ana)).ok).toBe(true);
    expect((await a!.check("question", ana)).ok).toBe(true);
    const refused = await b!.check("question", ana);
    expect(refused).toEqual({ ok: false, scope: "user", retryAfterSeconds: 3600 });
    // Ana's refused question did not use up the workspace: Ben gets the remaining two.
    expect((await a!.check("question", ben)).ok).toBe(true);
    expect((await b!.check("question", ben)).ok).toBe(true);
    expect(await a!.check("question", ben)).toMatchObject({ ok: false, scope: "workspace" });
    // Another workspace and another kind have their own counters.
    expect((await a!.check("question", { ...ana, tenantId: "w2" })).ok).toBe(true);
    expect((await a!.check("transcription", ana)).ok).toBe(true);
    expect((await b!.check("transcription", ana)).ok).toBe(false);
    t += 3_600_000;
    expect((await b!.check("question", ana)).ok).toBe(true);
  });
});

describe("rate limits in the bot: a friendly reply, counted in metrics", { timeout: 120_000 }, () => {
  let atom: Atom;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-limits-"));
    atom = await createAtom(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        LOG_LEVEL: "silent",
        ATOM_LIMIT_QUESTIONS_PER_USER_HOUR: "2",
        ATOM_LIMIT_QUESTIONS_PER_WORKSPACE_HOUR: "3",
      }),
      { logger: silentLogger, adapters: false },
    );
  }, 60_000);
  afterAll(async () => {
    await atom?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const ask = (userId: string, text: string, platform: ChatMessage["platform"] = "slack") =>
    atom.bot.handle({
      platform,
      tenantId: "default",
      channelId: "C1",
      threadId: `th-${Math.random()}`,
      messageId: `m-${Math.random()}`,
      userId,
      text,
      files: [],
      isDirect: false,
      mentionsBot: true,
      visibility: "thread",
    });

  it("refuses the third question of a user and the fourth of the workspace, kindly and privately", async () => {
    const before = await registry.metrics();
    expect((await ask("UANA", "what is the travel policy?")).intent).toBe("ask");
    expect((await ask("UANA", "what is the leave policy?")).intent).toBe("ask");
    const third = await ask("UANA", "what is the expense policy?");
    expect(third.intent).toBe("rate_limited");
    expect(third.visibility).toBe("ephemeral");
    expect(third.text).toMatch(
      /^You've sent a lot of questions in the last hour.*try again in (a minute|about \d+ minutes)\.$/,
    );
    // Commands are not questions: status still answers.
    expect((await ask("UANA", "status")).intent).toBe("status");
    expect((await ask("UBEN", "what is the bike policy?")).intent).toBe("ask");
    const fourth = await ask("UBEN", "what is the parking policy?");
    expect(fourth.text).toMatch(/^This workspace has reached its hourly limit for questions/);
    // The terminal is never limited.
    expect((await ask("local", "what is the desk policy?", "console")).intent).toBe("ask");
    const after = await registry.metrics();
    const d = (scope: string) =>
      sample(after, "atom_rate_limited_total", { kind: "question", scope }) -
      sample(before, "atom_rate_limited_total", { kind: "question", scope });
    expect(d("user")).toBe(1);
    expect(d("workspace")).toBe(1);
  });
});
