/**
 * botbuilder loads on first use in local mode (src/adapters/teams/lazy.ts): nothing of it at start,
 * and the first Teams request, a queued delivery, a proactive send or a status line loads it and
 * behaves exactly as the adapter created at start (teams-adapter.test.ts runs its whole suite this
 * way with ATOM_TEST_TEAMS_LAZY=1).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTeamsSurface } from "../../src/adapters/teams/lazy.ts";
import { makeReply } from "../../src/bot/reply.ts";
import { loadConfig } from "../../src/config.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { mention, postActivity, TEST_BOT, TEST_USER, teamsMessage } from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "./fakes/botframework.ts";
import { RecordingBot, type RunningTeams, startTeams } from "./teams-harness.ts";

let fake: FakeBotConnector;

beforeAll(async () => {
  fake = await startFakeBotConnector();
  fake.addMember({
    id: TEST_USER.id,
    name: TEST_USER.name,
    aadObjectId: TEST_USER.aadObjectId,
    email: "dana@example.com",
  });
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => fake.reset());

describe("Teams adapter loaded on first use (local mode)", () => {
  let run: RunningTeams | undefined;
  let bot: RecordingBot;
  afterAll(async () => {
    await run?.close();
  });

  it("is not loaded at start; the first request loads it and is answered as usual", async () => {
    bot = new RecordingBot();
    run = await startTeams(bot, { lazy: true });
    expect(run.surface?.loaded()).toBe(false);
    // The status line is registered at start, in the same place as before.
    expect(bot.contributors).toHaveLength(1);

    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "personal",
      text: "what is the home office budget?",
    });
    const res = await postActivity(run.url, activity);
    expect(res.status).toBe(200);
    expect(run.surface?.loaded()).toBe(true);
    await run.drain();
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.activityId).toBe(activity.id);
    expect(JSON.stringify(messages[0]!.body.attachments)).toContain(
      "You asked: what is the home office budget? [1]",
    );
    expect(bot.handled.at(-1)).toMatchObject({ platform: "teams", tenantId: "default", isDirect: true });
    // Still one status line, now the real adapter's.
    expect(bot.contributors).toHaveLength(1);
    const lines = await bot.contributors[0]!("default");
    expect(lines.join(" ")).toMatch(/1 conversation\(s\) reachable/);
  });

  it("refuses a request from outside loopback the same way once loaded (the route is the adapter's)", async () => {
    const res = await postActivity(run!.url, { type: "message" });
    expect(res.status).toBe(400);
  });

  it("a delivery queued before the adapter loaded is answered by a fresh server's worker", async () => {
    // Server A accepts (and loads); server B starts on the same database with its worker only.
    const db = run!.db;
    await run!.jobs.stop();
    const conv = "19:lazy-thread@thread.tacv2;messageid=1717000000900";
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: conv,
      text: "<at>Ask Bot</at> queued question",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(run!.url, activity)).status).toBe(200);
    const botB = new RecordingBot();
    const b = await startTeams(botB, { lazy: true, db });
    try {
      // Its worker picks the job up at once: that alone loads the adapter.
      await b.drain();
      expect(b.surface?.loaded()).toBe(true);
      expect(botB.handled.at(-1)?.text).toBe("queued question");
      expect(fake.messages().some((m) => m.conversationId === conv)).toBe(true);
    } finally {
      await b.close();
    }
  });

  it("a proactive send loads it and goes to the stored conversation", async () => {
    const surface = await createTeamsSurface({
      config: loadConfig({ LOG_LEVEL: "silent" }),
      db: run!.db,
      bot: new RecordingBot(),
      logger: silentLogger,
      conversations: { register() {}, accept: async () => "accepted" },
    });
    expect(surface.loaded()).toBe(false);
    const conv = "19:lazy-thread@thread.tacv2;messageid=1717000000900";
    const out = await surface.messenger.send(
      { platform: "teams", tenantId: "default", channelId: "19:lazy-thread@thread.tacv2", threadId: conv },
      makeReply({ intent: "workflow", text: "Weekly digest is ready" }),
    );
    expect(surface.loaded()).toBe(true);
    expect(out.messageId).not.toBe("");
    expect(fake.calls.some((c) => c.kind === "send" && c.conversationId === conv && c.status === 200)).toBe(
      true,
    );
    await surface.close();
  });

  it("loads at start when MICROSOFT_APP_ID is set", async () => {
    const surface = await createTeamsSurface({
      config: loadConfig({
        LOG_LEVEL: "silent",
        MICROSOFT_APP_ID: "app-1",
        MICROSOFT_APP_PASSWORD: "secret",
        MICROSOFT_APP_TYPE: "SingleTenant",
        MICROSOFT_APP_TENANT_ID: "00000000-0000-0000-0000-000000000001",
      }),
      db: run!.db,
      bot: new RecordingBot(),
      logger: silentLogger,
      conversations: { register() {}, accept: async () => "accepted" },
    });
    expect(surface.loaded()).toBe(true);
    expect(surface.readiness).toBeDefined();
    await surface.close();
  });
});
