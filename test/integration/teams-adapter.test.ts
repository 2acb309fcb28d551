/**
 * The Teams adapter with the real botbuilder CloudAdapter against the loopback fake Bot Connector,
 * with a small recording Bot (the bot core is exercised by the e2e test).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createTeamsAdapter, type TeamsAdapter } from "../../src/adapters/teams/index.ts";
import type { ChatMessage } from "../../src/adapters/types.ts";
import { makeReply } from "../../src/bot/reply.ts";
import type { Bot, FeedbackInput, HandleOptions, StatusContributor } from "../../src/bot/types.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openPglite, openPostgres, type Db } from "../../src/db/index.ts";
import { ConversationReferences } from "../../src/adapters/teams/references.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createApp } from "../../src/server/app.ts";
import {
  type FakeBotConnector,
  type FakeBotFrameworkAuth,
  startFakeBotConnector,
  startFakeBotFrameworkAuth,
} from "./fakes/botframework.ts";
import {
  botAddedUpdate,
  cardActionInvoke,
  fileAttachment,
  installationUpdate,
  mention,
  postActivity,
  TEST_BOT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";

/** A Bot that records what it got and answers with a citation and feedback buttons. */
class RecordingBot implements Bot {
  handled: ChatMessage[] = [];
  feedback: FeedbackInput[] = [];
  threads = new Set<string>();
  delayMs = 0;
  failNext = false;
  async handle(msg: ChatMessage, opts?: HandleOptions) {
    this.handled.push(msg);
    if (this.failNext) {
      this.failNext = false;
      throw new Error("memory is on fire");
    }
    this.threads.add(msg.threadId);
    if (msg.files.length > 0 && opts?.progress) {
      const bytes = await msg.files[0]?.download?.();
      await opts.progress(
        makeReply({ intent: "transcribe", text: `Got ${bytes?.length ?? 0} bytes of ${msg.files[0]?.name}` }),
      );
    }
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const answerId = `ans-${this.handled.length}`;
    return makeReply({
      intent: "ask",
      text: `You asked: ${msg.text} [1]`,
      citations: [
        {
          n: 1,
          title: "Spending company money",
          uri: "spending-company-money.md",
          heading: null,
          snippet: "Budget",
        },
      ],
      actions: [
        { id: "feedback_up", label: "👍", value: answerId },
        { id: "feedback_down", label: "👎", value: answerId },
      ],
      answerId,
    });
  }
  async recordFeedback(input: FeedbackInput) {
    if (this.feedback.some((f) => f.answerId === input.answerId && f.userId === input.userId)) return false;
    this.feedback.push(input);
    return true;
  }
  async isInThread(ref: { threadId: string }) {
    return this.threads.has(ref.threadId);
  }
  contributors: StatusContributor[] = [];
  addStatusContributor(fn: StatusContributor) {
    this.contributors.push(fn);
  }

  registerCommand(): void {}

  registerActionHandler(): void {}

  async handleAction(): Promise<undefined> {
    return undefined;
  }
}

interface Running {
  teams: TeamsAdapter;
  url: string;
  server: ServerType;
  close(): Promise<void>;
}

async function startTeams(
  db: Db,
  bot: Bot,
  env: Record<string, string> = {},
  opts: { channelAuth?: { openIdMetadataUrl: string }; typingIntervalMs?: number } = {},
): Promise<Running> {
  const config = loadConfig({ ATOM_DATA_DIR: dataDir, LOG_LEVEL: "silent", ...env });
  const teams = createTeamsAdapter({
    config,
    db,
    bot,
    logger: silentLogger,
    typingIntervalMs: opts.typingIntervalMs ?? 60_000,
    channelAuth: opts.channelAuth,
  });
  const app = createApp({ logger: silentLogger, readiness: [], routes: [teams.routes] });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    teams,
    server,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await teams.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let dataDir: string;
let db: Db;
let fake: FakeBotConnector;
let bot: RecordingBot;
let run: Running;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-"));
  db = await openPglite(path.join(dataDir, "pglite"));
  await migrate(db);
  fake = await startFakeBotConnector();
  fake.addMember({
    id: TEST_USER.id,
    name: TEST_USER.name,
    aadObjectId: TEST_USER.aadObjectId,
    email: "Dana.Fox@Example.com",
  });
  bot = new RecordingBot();
  run = await startTeams(db, bot);
});

afterAll(async () => {
  await run?.close();
  await fake?.close();
  await db?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.reset();
});

const conversationRows = async () =>
  (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM teams_conversations")).rows[0]?.n ?? 0;

describe("Teams adapter (real CloudAdapter, fake Bot Connector)", () => {
  it("answers a personal chat message in the chat: typing first, then a card reply to the activity", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "personal",
      text: "what is the home office budget?",
    });
    const res = await postActivity(run.url, activity);
    expect(res.status).toBe(200);
    await fake.waitFor(() => fake.messages().length === 1);
    const posted = fake.posted();
    expect(posted[0]?.body.type).toBe("typing");
    const reply = fake.messages()[0];
    expect(reply?.kind).toBe("reply");
    expect(reply?.conversationId).toBe(activity.conversation && (activity.conversation as { id: string }).id);
    expect(reply?.activityId).toBe(activity.id);
    expect(JSON.stringify(reply?.body.attachments)).toContain(
      "You asked: what is the home office budget? [1]",
    );
    const msg = bot.handled.at(-1);
    expect(msg).toMatchObject({
      platform: "teams",
      tenantId: "default",
      isDirect: true,
      userId: TEST_USER.aadObjectId,
    });
    // Personal chat: the asker's e-mail comes from the member lookup (TeamsInfo route).
    expect(msg?.userEmail).toBe("dana.fox@example.com");
    expect(fake.calls.some((c) => c.kind === "member" && c.memberId === TEST_USER.id)).toBe(true);
  });

  it("(a) keeps every outgoing activity of a channel thread in that thread", async () => {
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000123";
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      text: "<at>Ask Bot</at> what is the travel policy?",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(run.url, activity)).status).toBe(200);
    await fake.waitFor(() => fake.messages().length === 1);
    await run.teams.idle();
    const posted = fake.posted();
    expect(posted.length).toBeGreaterThanOrEqual(2);
    for (const c of posted) expect(c.conversationId).toBe(thread);
    expect(fake.calls.filter((c) => c.conversationId === "19:abc123def@thread.tacv2")).toHaveLength(0);
    expect(fake.messages()[0]?.activityId).toBe(activity.id);
    const msg = bot.handled.at(-1);
    expect(msg).toMatchObject({
      isDirect: false,
      channelId: "19:abc123def@thread.tacv2",
      threadId: thread,
      mentionsBot: true,
    });
    expect(msg?.userEmail).toBeUndefined();
  });

  it("starts a thread under a channel post that arrives with a bare channel id", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: "19:abc123def@thread.tacv2",
      id: "1717000000777",
      text: "<at>Ask Bot</at> hi",
      entities: [mention(TEST_BOT)],
    });
    await postActivity(run.url, activity);
    await fake.waitFor(() => fake.messages().length === 1);
    for (const c of fake.posted())
      expect(c.conversationId).toBe("19:abc123def@thread.tacv2;messageid=1717000000777");
  });

  it("(b) removes only the bot mention and normalises the text", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      text: "<at>Ask Bot</at>&nbsp;summarize <at>Dana Fox</at> notes\r\n",
      entities: [mention(TEST_BOT), mention({ id: TEST_USER.id, name: "Dana Fox" })],
    });
    await postActivity(run.url, activity);
    await fake.waitFor(() => fake.messages().length === 1);
    expect(bot.handled.at(-1)?.text).toBe("summarize Dana Fox notes");
    expect(fake.messages()[0]?.conversationId).toBe("19:group-chat-1@thread.v2");
  });

  it("ignores channel messages that neither mention the bot nor continue its thread", async () => {
    const before = bot.handled.length;
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: "19:other@thread.tacv2;messageid=42",
      text: "lunch?",
    });
    expect((await postActivity(run.url, activity)).status).toBe(200);
    await run.teams.idle();
    expect(bot.handled.length).toBe(before);
    expect(fake.posted()).toHaveLength(0);
  });

  it("answers a redelivered activity once", async () => {
    const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "duplicate please" });
    const [r1, r2] = await Promise.all([postActivity(run.url, activity), postActivity(run.url, activity)]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await run.teams.idle();
    await postActivity(run.url, activity);
    await run.teams.idle();
    expect(fake.messages()).toHaveLength(1);
    expect(bot.handled.filter((m) => m.text === "duplicate please")).toHaveLength(1);
  });

  it("acks before any outbound call, then keeps typing until the answer is posted", async () => {
    const slowBot = new RecordingBot();
    slowBot.delayMs = 1200;
    const quick = await startTeams(db, slowBot, {}, { typingIntervalMs: 200 });
    try {
      const started = Date.now();
      const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "slow one" });
      const res = await postActivity(quick.url, activity);
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(fake.messages()).toHaveLength(0);
      await fake.waitFor(() => fake.messages().length === 1, 10_000);
      const types = fake.posted().map((c) => c.body.type);
      expect(types.at(-1)).toBe("message");
      expect(types.slice(0, -1).every((t) => t === "typing")).toBe(true);
      expect(types.filter((t) => t === "typing").length).toBeGreaterThanOrEqual(3);
      for (const c of fake.posted()) expect(c.activityId).toBe(activity.id);
    } finally {
      await quick.close();
    }
  });

  it("hands attachments to the bot as downloadable files and posts progress in the same thread", async () => {
    const url = fake.addFile("note.m4a", Buffer.from("fake-audio-bytes"), "audio/mp4");
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000900";
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      text: "<at>Ask Bot</at>",
      entities: [mention(TEST_BOT)],
      attachments: [fileAttachment("note.m4a", url)],
    });
    await postActivity(run.url, activity);
    await fake.waitFor(() => fake.messages().length === 2);
    const [progress, final] = fake.messages();
    expect(JSON.stringify(progress?.body)).toContain("Got 16 bytes of note.m4a");
    expect(progress?.conversationId).toBe(thread);
    expect(final?.conversationId).toBe(thread);
    const download = fake.calls.find((c) => c.kind === "file");
    expect(download?.headers.authorization).toBeUndefined();
    expect(bot.handled.at(-1)?.files[0]).toMatchObject({ name: "note.m4a", filetype: "m4a" });
  });

  it("posts an apology in the thread when answering fails", async () => {
    bot.failNext = true;
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      text: "<at>Ask Bot</at> boom",
      entities: [mention(TEST_BOT)],
    });
    await postActivity(run.url, activity);
    await fake.waitFor(() => fake.messages().length === 1);
    const reply = fake.messages()[0]!;
    expect(reply.activityId).toBe(activity.id);
    expect(JSON.stringify(reply.body)).toContain("Sorry, something went wrong");
    expect(JSON.stringify(reply.body)).not.toContain("on fire");
  });

  it("marks the conversation inactive when Teams refuses the answer with 403", async () => {
    const conv = "19:kicked-out@thread.v2";
    fake.blockConversation(conv, 403);
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      conversationId: conv,
      text: "<at>Ask Bot</at> hi",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(run.url, activity)).status).toBe(200);
    await run.teams.idle();
    expect((await run.teams.references.get("default", conv))?.active).toBe(false);
    // Only the typing indicator and the answer were tried; no apology is sent into a closed conversation.
    expect(fake.posted().map((c) => c.body.type)).toEqual(["typing", "message"]);
  });

  it("(e) records card feedback once, however often the invoke arrives", async () => {
    const before = bot.feedback.length;
    const invoke = cardActionInvoke({
      serviceUrl: fake.url,
      kind: "personal",
      verb: "atom",
      data: { atomAction: "feedback_up", value: "ans-77", answerId: "ans-77" },
    });
    const r1 = await postActivity(run.url, invoke);
    expect(r1.status).toBe(200);
    expect(await r1.json()).toMatchObject({
      statusCode: 200,
      type: "application/vnd.microsoft.activity.message",
      value: "Thanks for the feedback!",
    });
    const r2 = await postActivity(run.url, invoke);
    expect(r2.status).toBe(200);
    // Pressed again (a new invoke activity): the first rating stays.
    const again = await postActivity(run.url, { ...invoke, id: `${invoke.id}-2` });
    expect(((await again.json()) as { value: string }).value).toMatch(/already recorded/);
    expect(bot.feedback.length - before).toBe(1);
    expect(bot.feedback.at(-1)).toMatchObject({
      answerId: "ans-77",
      rating: "up",
      platform: "teams",
      tenantId: "default",
    });
    expect(fake.posted()).toHaveLength(0);
  });

  it("records feedback from Teams' built-in feedback buttons on a sent answer", async () => {
    const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "rate me" });
    await postActivity(run.url, activity);
    await fake.waitFor(() => fake.messages().length === 1);
    await run.teams.idle();
    const replyId = await db.query<{ activity_id: string; answer_id: string }>(
      "SELECT activity_id, answer_id FROM teams_sent_messages ORDER BY created_at DESC LIMIT 1",
    );
    const row = replyId.rows[0];
    expect(row).toBeDefined();
    const invoke = {
      ...teamsMessage({ serviceUrl: fake.url, kind: "personal" }),
      type: "invoke",
      name: "message/submitAction",
      replyToId: row?.activity_id,
      value: {
        actionName: "feedback",
        actionValue: { reaction: "dislike", feedback: '{"feedbackText":"wrong"}' },
      },
    };
    expect((await postActivity(run.url, invoke)).status).toBe(200);
    expect(bot.feedback.at(-1)).toMatchObject({ answerId: row?.answer_id, rating: "down" });
  });

  it("stores references from conversationUpdate and marks them inactive on uninstall", async () => {
    const conv = "19:installed-here@thread.tacv2";
    await postActivity(
      run.url,
      botAddedUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: conv }),
    );
    const row = await run.teams.references.get("default", conv);
    expect(row).toMatchObject({ active: true, conversationType: "channel", channelId: conv });
    expect(row?.teamsTenantId).toBe("72f988bf-0000-4000-8000-000000000001");
    await postActivity(
      run.url,
      installationUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: conv, action: "remove" }),
    );
    expect((await run.teams.references.get("default", conv))?.active).toBe(false);
  });

  it("rejects malformed bodies with 400", async () => {
    const res = await fetch(`${run.url}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(res.status).toBe(400);
    const arr = await fetch(`${run.url}/api/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "[]",
    });
    expect(arr.status).toBe(400);
    const huge = teamsMessage({ serviceUrl: fake.url, text: "x".repeat(1_100_000) });
    expect((await postActivity(run.url, huge)).status).toBe(413);
    expect(fake.calls).toHaveLength(0);
  });
});

describe("proactive messages (Messenger)", () => {
  it("(c) sends from the stored reference after a restart, on the first try", async () => {
    const conv = "19:abc123def@thread.tacv2;messageid=1717000000500";
    await postActivity(
      run.url,
      teamsMessage({
        serviceUrl: fake.url,
        kind: "channel",
        conversationId: conv,
        text: "<at>Ask Bot</at> hello",
        entities: [mention(TEST_BOT)],
      }),
    );
    await fake.waitFor(() => fake.messages().length === 1);
    // A fresh adapter (new CloudAdapter, nothing in memory) over the same database.
    const restarted = await startTeams(db, new RecordingBot());
    try {
      fake.reset();
      const out = await restarted.teams.messenger.send(
        { platform: "teams", tenantId: "default", channelId: "19:abc123def@thread.tacv2", threadId: conv },
        makeReply({ intent: "workflow", text: "Weekly digest is ready" }),
      );
      expect(out.messageId).not.toBe("");
      expect(fake.calls).toHaveLength(1);
      expect(fake.calls[0]).toMatchObject({ kind: "send", conversationId: conv, status: 200 });
      expect(JSON.stringify(fake.calls[0]?.body)).toContain("Weekly digest is ready");
    } finally {
      await restarted.close();
    }
  });

  it("starts a new thread for a channel post (never the bare channel id) and sends to chats directly", async () => {
    const channel = "19:digest-channel@thread.tacv2";
    await postActivity(
      run.url,
      botAddedUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: channel }),
    );
    fake.reset();
    await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", channelId: channel },
      makeReply({ intent: "workflow", text: "New post" }),
    );
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.kind).toBe("createConversation");
    expect(fake.calls[0]?.body).toMatchObject({ isGroup: true, channelData: { channel: { id: channel } } });
    const personal = `a:1-personal-${TEST_USER.aadObjectId}`;
    fake.reset();
    await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", channelId: personal },
      makeReply({ intent: "workflow", text: "DM" }),
    );
    expect(fake.calls.map((c) => [c.kind, c.conversationId])).toEqual([["send", personal]]);
  });

  it("retries a 429 after Retry-After and succeeds", async () => {
    const personal = `a:1-personal-${TEST_USER.aadObjectId}`;
    fake.fail({ status: 429, retryAfter: 1, kind: "send" });
    const out = await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", channelId: personal },
      makeReply({ intent: "workflow", text: "after throttle" }),
    );
    expect(out.messageId).not.toBe("");
    expect(fake.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it("marks a reference inactive on 403 and stops calling the connector", async () => {
    const conv = "19:removed-group@thread.v2";
    await postActivity(
      run.url,
      botAddedUpdate({ serviceUrl: fake.url, kind: "groupChat", conversationId: conv }),
    );
    fake.reset();
    fake.blockConversation(conv, 403);
    const target = { platform: "teams" as const, tenantId: "default", channelId: conv };
    await expect(
      run.teams.messenger.send(target, makeReply({ intent: "workflow", text: "x" })),
    ).rejects.toThrow(/not reachable \(HTTP 403\)/);
    expect(fake.calls).toHaveLength(1);
    expect((await run.teams.references.get("default", conv))?.active).toBe(false);
    await expect(
      run.teams.messenger.send(target, makeReply({ intent: "workflow", text: "y" })),
    ).rejects.toThrow(/inactive/);
    expect(fake.calls).toHaveLength(1);
  });

  it("posts into another thread of a known channel from the channel's reference", async () => {
    const other = "19:abc123def@thread.tacv2;messageid=1717000000999";
    fake.reset();
    await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", channelId: "19:abc123def@thread.tacv2", threadId: other },
      makeReply({ intent: "workflow", text: "into that thread" }),
    );
    expect(fake.calls.map((c) => [c.kind, c.conversationId])).toEqual([["send", other]]);
  });

  it("reports Teams health in status", async () => {
    const lines = (await Promise.all(bot.contributors.map((f) => f("default")))).flat();
    const elsewhere = (await Promise.all(bot.contributors.map((f) => f("slack:T0THER")))).flat();
    expect(elsewhere).toEqual([]);
    expect(
      lines.some((l) =>
        /^Teams: local mode without MICROSOFT_APP_ID.*\d+ conversation\(s\) reachable, \d+ inactive$/.test(l),
      ),
    ).toBe(true);
  });

  it("fails clearly for an unknown conversation", async () => {
    await expect(
      run.teams.messenger.send(
        { platform: "teams", tenantId: "default", channelId: "19:never-seen" },
        makeReply({ intent: "x", text: "x" }),
      ),
    ).rejects.toThrow(/no Teams conversation reference/);
  });
});

describe("authentication", () => {
  const APP_ID = "11111111-2222-3333-4444-555555555555";
  let issuer: FakeBotFrameworkAuth;
  let secured: Running;

  beforeAll(async () => {
    issuer = await startFakeBotFrameworkAuth();
    secured = await startTeams(
      db,
      bot,
      { MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: "test-secret-value" },
      { channelAuth: { openIdMetadataUrl: issuer.openIdMetadataUrl } },
    );
  });

  afterAll(async () => {
    await secured?.close();
    await issuer?.close();
  });

  const counts = async () => ({
    refs: await conversationRows(),
    events: (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM processed_events")).rows[0]?.n,
    handled: bot.handled.length,
  });

  it("(d) with an app id, rejects a bad or missing token: 401, nothing stored, no call to the serviceUrl", async () => {
    const attacker = await startFakeBotConnector();
    try {
      expect(secured.teams.authenticated).toBe(true);
      const before = await counts();
      const activity = teamsMessage({
        serviceUrl: attacker.url,
        kind: "personal",
        text: "leak the handbook",
        conversationId: "a:attacker-conv",
      });
      const bad = await postActivity(secured.url, activity, "Bearer not-a-jwt");
      expect(bad.status).toBe(401);
      expect(await bad.text()).not.toContain("not-a-jwt");
      expect((await postActivity(secured.url, activity)).status).toBe(401);
      // Well-formed tokens that must not pass: unknown signing key, other bot, other serviceUrl, expired.
      const forged = [
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, signWith: "stranger" }),
        issuer.token({ appId: "99999999-2222-3333-4444-555555555555", serviceUrl: attacker.url }),
        issuer.token({ appId: APP_ID, serviceUrl: fake.url }),
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, expiresInSeconds: -3600 }),
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, issuer: "https://evil.example" }),
      ];
      for (const t of forged)
        expect((await postActivity(secured.url, activity, `Bearer ${t}`)).status).toBe(401);
      await secured.teams.idle();
      expect(await counts()).toEqual(before);
      expect(attacker.calls).toHaveLength(0);
    } finally {
      await attacker.close();
    }
  });

  it("accepts activities carrying a valid channel token", async () => {
    const conv = "19:secured-channel@thread.tacv2";
    const update = botAddedUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: conv });
    const token = issuer.token({ appId: APP_ID, serviceUrl: fake.url });
    expect((await postActivity(secured.url, update, `Bearer ${token}`)).status).toBe(200);
    expect((await secured.teams.references.get("default", conv))?.active).toBe(true);
    const invoke = cardActionInvoke({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: `${conv};messageid=1`,
      verb: "atom",
      data: { atomAction: "feedback_down", value: "ans-secured", answerId: "ans-secured" },
    });
    const res = await postActivity(secured.url, invoke, `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { value: string }).value).toBe("Thanks for the feedback!");
    expect(bot.feedback.at(-1)).toMatchObject({ answerId: "ans-secured", rating: "down" });
    expect(issuer.requests).toContain("/v1/.well-known/keys");
  });

  it("without an app id, accepts unauthenticated activities only from loopback", async () => {
    const config = loadConfig({ ATOM_DATA_DIR: dataDir, LOG_LEVEL: "silent" });
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const teams = createTeamsAdapter({ config, db, bot, logger });
    // Said loudly (warn) at start, once.
    expect(lines.filter((l) => /WITHOUT authentication/.test(l.msg)).map((l) => l.level)).toEqual([40]);
    const app = createApp({ logger: silentLogger, readiness: [], routes: [teams.routes] });
    // app.request has no socket: the remote address is unknown, so it is not loopback.
    const send = () =>
      app.request("/api/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(teamsMessage({ serviceUrl: fake.url, text: "hi" })),
      });
    expect((await send()).status).toBe(401);
    expect((await send()).status).toBe(401);
    expect(fake.calls).toHaveLength(0);
    expect(lines.filter((l) => /WITHOUT authentication/.test(l.msg))).toHaveLength(1);
  });

  it("refuses to start a SingleTenant bot without a tenant id", () => {
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      MICROSOFT_APP_ID: "x",
      MICROSOFT_APP_PASSWORD: "y",
      MICROSOFT_APP_TYPE: "SingleTenant",
    });
    expect(() => createTeamsAdapter({ config, db, bot, logger: silentLogger })).toThrow(
      /MICROSOFT_APP_TENANT_ID is required/,
    );
  });
});

/**
 * Watches every TCP connection the process opens while a test runs. Connections to a loopback
 * address pass; any other destination is recorded and failed before DNS or a packet leaves
 * (`net.Socket.prototype.connect` is where Node's http, undici and axios all open sockets).
 */
function guardOutbound() {
  const original = net.Socket.prototype.connect;
  const loopback = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);
  const attempts: string[] = [];
  const spy = vi.spyOn(net.Socket.prototype, "connect").mockImplementation(function (
    this: net.Socket,
    ...args: unknown[]
  ) {
    // net.connect passes its normalised [options, callback] pair as the first argument.
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const opts = (first && typeof first === "object" ? first : {}) as {
      host?: string;
      port?: number;
      path?: string;
    };
    const host = typeof first === "number" ? (args[1] as string | undefined) : opts.host;
    const port = typeof first === "number" ? first : opts.port;
    if (!opts.path && !loopback.has(host ?? "localhost")) {
      attempts.push(`${host}:${port}`);
      process.nextTick(() => this.destroy(new Error("outbound connection blocked by the test")));
      return this;
    }
    return original.apply(this, args as Parameters<typeof original>);
  });
  return { attempts, restore: () => spy.mockRestore() };
}

describe("local mode (no app id): where Atom answers, and malformed activities", () => {
  let guard: ReturnType<typeof guardOutbound>;
  beforeEach(() => {
    guard = guardOutbound();
  });
  afterEach(() => {
    guard.restore();
    vi.restoreAllMocks();
  });

  const counts = async () => ({
    refs: await conversationRows(),
    events: (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM processed_events")).rows[0]?.n,
    handled: bot.handled.length,
  });
  // The adapter's turn entry point: every turn (and so every outbound connector call) starts here.
  const turnSpy = () =>
    vi.spyOn(run.teams.adapter as unknown as { run: (...args: unknown[]) => Promise<unknown> }, "run");

  it("refuses a loopback activity whose serviceUrl is not on loopback: 400, no outbound call, nothing stored", async () => {
    expect(run.teams.authenticated).toBe(false);
    const turns = turnSpy();
    const before = await counts();
    const elsewhere = [
      "http://0.0.0.0:4555/",
      "http://10.0.0.1:9/",
      "http://example.invalid/",
      "https://smba.trafficmanager.net/amer/",
      "http://[::ffff:a00:1]:9/",
      "http://[::]:9/",
      "http://[fe80::1]:9/",
      "http://127.0.0.1.example.invalid/",
      "http://localhost.example.invalid:9/",
      "http://127.0.0.1:9@example.invalid/",
      "http://user:secret@127.0.0.1:9/",
    ];
    for (const serviceUrl of elsewhere) {
      const activity = teamsMessage({
        serviceUrl,
        kind: "personal",
        text: "what is the home office budget?",
        conversationId: `a:elsewhere-${elsewhere.indexOf(serviceUrl)}`,
      });
      const res = await postActivity(run.url, activity);
      expect(res.status, serviceUrl).toBe(400);
      const body = (await res.json()) as { error: string };
      expect(body.error).toMatch(/serviceUrl must be an http\(s\) URL on loopback/);
      expect(body.error).not.toContain("secret");
    }
    for (const serviceUrl of ["ftp://127.0.0.1/", "not a url", ""]) {
      const res = await postActivity(run.url, teamsMessage({ serviceUrl, text: "hi" }));
      expect(res.status, serviceUrl).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/serviceUrl/);
    }
    await run.teams.idle();
    // Anything a turn would have started (typing, member lookup, the answer) had its chance to run.
    await new Promise((r) => setTimeout(r, 150));
    await run.teams.idle();
    expect(guard.attempts).toEqual([]);
    expect(turns).not.toHaveBeenCalled();
    expect(fake.calls).toHaveLength(0);
    expect(await counts()).toEqual(before);
  });

  it("still answers at a loopback serviceUrl on another port, written as IPv4, IPv4-mapped IPv6 or without a slash", async () => {
    const other = await startFakeBotConnector();
    try {
      const port = new URL(other.url).port;
      const variants = [
        `http://127.0.0.1:${port}`,
        `http://[::ffff:7f00:1]:${port}/`,
        `http://[::ffff:127.0.0.1]:${port}/`,
        `http://127.1:${port}/`,
      ];
      for (const [i, serviceUrl] of variants.entries()) {
        other.reset();
        const activity = teamsMessage({ serviceUrl, kind: "personal", text: `local question ${i}` });
        expect((await postActivity(run.url, activity)).status, serviceUrl).toBe(200);
        await other.waitFor(() => other.messages().length === 1);
        expect(other.messages()[0]).toMatchObject({ kind: "reply", activityId: activity.id });
        const ref = await run.teams.references.get("default", (activity.conversation as { id: string }).id);
        expect(ref?.reference.serviceUrl).toBe(`http://127.0.0.1:${port}/`);
      }
      await run.teams.idle();
      expect(guard.attempts).toEqual([]);
      expect(fake.calls).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it("rejects JSON-valid activities of the wrong shape with 400 and a short message, storing nothing", async () => {
    const turns = turnSpy();
    const before = await counts();
    const base = () => teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "hello" });
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ["numeric text", { ...base(), text: 12345 }, /text: expected string/],
      [
        "entities and attachments not arrays",
        { ...base(), entities: "nope", attachments: { a: 1 } },
        /(entities|attachments): expected array/,
      ],
      ["attachments not an array", { ...base(), attachments: { a: 1 } }, /attachments: expected array/],
      ["an entity that is not an object", { ...base(), entities: [7] }, /entities\.0: expected object/],
      ["no type", { ...base(), type: undefined }, /type: expected string/],
      ["no id", { ...base(), id: undefined }, /id: expected string/],
      [
        "numeric conversation id",
        { ...base(), conversation: { id: 42 } },
        /conversation\.id: expected string/,
      ],
      ["no conversation", { ...base(), conversation: undefined }, /conversation: expected object/],
      ["from without id", { ...base(), from: { name: "Dana" } }, /from\.id: expected string/],
      ["recipient as a string", { ...base(), recipient: "28:bot" }, /recipient: expected object/],
      ["numeric serviceUrl", { ...base(), serviceUrl: 1 }, /serviceUrl: expected string/],
      ["membersRemoved not an array", { ...base(), membersRemoved: "all" }, /membersRemoved: expected array/],
    ];
    for (const [name, activity, error] of cases) {
      const res = await postActivity(run.url, activity);
      expect(res.status, name).toBe(400);
      const body = (await res.json()) as { error: string };
      expect(body.error, name).toMatch(/^invalid activity: /);
      expect(body.error, name).toMatch(error);
      expect(body.error.length).toBeLessThanOrEqual(200);
    }
    await run.teams.idle();
    expect(turns).not.toHaveBeenCalled();
    expect(fake.calls).toHaveLength(0);
    expect(guard.attempts).toEqual([]);
    expect(await counts()).toEqual(before);
  });

  it("keeps accepting real Teams activities that carry null or extra fields", async () => {
    const activity = {
      ...teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "null-tolerant question" }),
      replyToId: null,
      attachments: null,
      summary: "extra field Teams may add",
      channelData: { tenant: { id: "72f988bf-0000-4000-8000-000000000001" }, eventType: "x", settings: {} },
    };
    const turns = turnSpy();
    expect((await postActivity(run.url, activity)).status).toBe(200);
    await fake.waitFor(() => fake.messages().length === 1);
    expect(bot.handled.at(-1)?.text).toBe("null-tolerant question");
    // The spy the refusal tests rely on does see turns.
    expect(turns).toHaveBeenCalledTimes(1);
  });
});

const backends: Array<[string, () => Promise<{ db: Db; close: () => Promise<void> }>]> = [
  ["PGlite", async () => ({ db, close: async () => {} })],
];
if (process.env.TEST_DATABASE_URL) {
  backends.push([
    "PostgreSQL",
    async () => {
      const pg = await openPostgres(process.env.TEST_DATABASE_URL as string);
      await migrate(pg);
      return { db: pg, close: () => pg.close() };
    },
  ]);
}

describe.each(backends)("conversation references on %s", (_name, open) => {
  it("saves, refreshes, finds by thread and channel, deactivates and maps sent answers", async () => {
    const { db: store, close } = await open();
    try {
      const refs = new ConversationReferences(store);
      // Unique rows per run, so parallel test files sharing a database don't collide.
      const tenant = `t-${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const channel = "19:refs@thread.tacv2";
      const thread = `${channel};messageid=1`;
      const reference = {
        activityId: "should-not-be-stored",
        serviceUrl: "https://smba.example/emea/",
        channelId: "msteams",
        bot: { id: "28:bot", name: "Atom" },
        user: { id: "29:u", name: "U" },
        conversation: { id: thread, isGroup: true, conversationType: "channel", name: "" },
      };
      await refs.save({
        tenantId: tenant,
        conversationId: thread,
        channelId: channel,
        teamsTenantId: "tt",
        conversationType: "channel",
        reference,
      });
      const got = await refs.get(tenant, thread);
      expect(got).toMatchObject({
        channelId: channel,
        teamsTenantId: "tt",
        conversationType: "channel",
        active: true,
      });
      expect(got?.reference.activityId).toBeUndefined();
      expect(got?.reference.serviceUrl).toBe("https://smba.example/emea/");
      expect(await refs.get("other-tenant", thread)).toBeNull();

      await refs.markInactive(tenant, channel, "HTTP 403");
      expect(await refs.latestInChannel(tenant, channel)).toMatchObject({
        active: false,
        inactiveReason: "HTTP 403",
      });
      // A new authenticated activity re-activates it and updates the serviceUrl.
      await refs.save({
        tenantId: tenant,
        conversationId: thread,
        channelId: channel,
        reference: { ...reference, serviceUrl: "https://smba.example/amer/" },
      });
      const again = await refs.get(tenant, thread);
      expect(again).toMatchObject({ active: true, inactiveReason: null, teamsTenantId: "tt" });
      expect(again?.reference.serviceUrl).toBe("https://smba.example/amer/");

      await refs.recordSentAnswer(tenant, thread, "171", "ans-x");
      await refs.recordSentAnswer(tenant, thread, "171", "ans-y");
      expect(await refs.answerOfMessage(tenant, thread, "171")).toBe("ans-x");
      expect(await refs.answerOfMessage(tenant, thread, "172")).toBeNull();
      await expect(
        refs.save({
          tenantId: tenant,
          conversationId: "x",
          channelId: "x",
          reference: { channelId: "msteams" },
        }),
      ).rejects.toThrow(/serviceUrl/);
    } finally {
      await close();
    }
  });
});
