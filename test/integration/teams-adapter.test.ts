/**
 * The Teams adapter in local mode (no app id: unauthenticated, loopback only) with the real
 * botbuilder code, the core's durable pipeline and the loopback fake Bot Connector. Tests wait on
 * the job table's drain signal, never on fixed sleeps.
 */
import http from "node:http";
import net from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import { TeamsConversations } from "../../src/db/teams.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { createApp } from "../../src/server/app.ts";
import { createTeamsAdapter } from "../../src/adapters/teams/index.ts";
import { loadConfig } from "../../src/config.ts";
import pino from "pino";
import {
  audioAttachment,
  botAddedUpdate,
  cardActionInvoke,
  fileAttachment,
  installationUpdate,
  mention,
  postActivity,
  TEST_BOT,
  TEST_TEAMS_TENANT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "./fakes/botframework.ts";
import { countRows, RecordingBot, type RunningTeams, startTeams } from "./teams-harness.ts";

let fake: FakeBotConnector;
let bot: RecordingBot;
let run: RunningTeams;

beforeAll(async () => {
  fake = await startFakeBotConnector();
  fake.addMember({
    id: TEST_USER.id,
    name: TEST_USER.name,
    aadObjectId: TEST_USER.aadObjectId,
    email: "Dana.Fox@Example.com",
  });
  bot = new RecordingBot();
  run = await startTeams(bot);
});

afterAll(async () => {
  await run?.close();
  await fake?.close();
});

beforeEach(() => {
  fake.reset();
});

/** The job the door created for a message activity of the test tenant. */
function jobOf(activity: Record<string, unknown>) {
  const conversation = (activity.conversation as { id: string }).id;
  return run.jobs.store.get(
    "inbound",
    `teams:${TEST_TEAMS_TENANT}`,
    `message:${conversation}:${activity.id}`,
  );
}

/** Posts an activity and waits until the worker handled everything it accepted. */
async function deliver(activity: unknown): Promise<Response> {
  const res = await postActivity(run.url, activity);
  await run.drain();
  return res;
}

describe("Teams adapter (real botbuilder, core pipeline, fake Bot Connector)", () => {
  it("answers a personal chat message in the chat with a card reply to the activity, without credentials", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "personal",
      text: "what is the home office budget?",
    });
    expect((await deliver(activity)).status).toBe(200);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    const reply = messages[0]!;
    expect(reply.kind).toBe("reply");
    expect(reply.conversationId).toBe((activity.conversation as { id: string }).id);
    expect(reply.activityId).toBe(activity.id);
    expect(JSON.stringify(reply.body.attachments)).toContain(
      "You asked: what is the home office budget? [1]",
    );
    // Local mode: no token is ever sent (the fake would answer 401).
    expect(fake.calls.every((c) => c.auth === "none" && c.status === 200)).toBe(true);
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

  it("sends the AI label and citation entity with all its fields (botbuilder's serializer keeps them)", async () => {
    await deliver(teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "where is the budget?" }));
    const [reply] = fake.messages();
    const entities = reply!.body.entities as Array<Record<string, unknown>>;
    const ai = entities.find((e) => e.type === "https://schema.org/Message");
    expect(ai).toMatchObject({
      "@type": "Message",
      "@context": "https://schema.org",
      additionalType: ["AIGeneratedContent"],
      citation: [
        {
          "@type": "Claim",
          position: 1,
          appearance: { "@type": "DigitalDocument", name: "Spending company money", abstract: "Budget" },
        },
      ],
    });
  });

  it("keeps every outgoing activity of a channel thread in that thread", async () => {
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000123";
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      text: "<at>Ask Bot</at> what is the travel policy?",
      entities: [mention(TEST_BOT)],
    });
    expect((await deliver(activity)).status).toBe(200);
    expect(fake.messages()).toHaveLength(1);
    for (const c of fake.posted()) expect(c.conversationId).toBe(thread);
    expect(fake.calls.filter((c) => c.conversationId === "19:abc123def@thread.tacv2")).toHaveLength(0);
    expect(fake.messages()[0]?.activityId).toBe(activity.id);
    expect(bot.handled.at(-1)).toMatchObject({
      isDirect: false,
      channelId: "19:abc123def@thread.tacv2",
      threadId: thread,
      mentionsBot: true,
      userEmail: undefined,
    });
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
    await deliver(activity);
    expect(fake.messages()).toHaveLength(1);
    for (const c of fake.posted())
      expect(c.conversationId).toBe("19:abc123def@thread.tacv2;messageid=1717000000777");
  });

  it("removes only the bot mention and normalises the text", async () => {
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "groupChat",
        text: "<at>Ask Bot</at>&nbsp;summarize <at>Dana Fox</at> notes\r\n",
        entities: [mention(TEST_BOT), mention({ id: TEST_USER.id, name: "Dana Fox" })],
      }),
    );
    expect(bot.handled.at(-1)?.text).toBe("summarize Dana Fox notes");
    expect(fake.messages()[0]?.conversationId).toBe("19:group-chat-1@thread.v2");
  });

  it("removes the bot's mention when the client sends the mention entity without text", async () => {
    // As replayed from a real client: the entity names the bot but has no `text` property.
    const entity = { type: "mention", mentioned: { id: TEST_BOT.id, name: "Chat SDK Demo" } };
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "groupChat",
        text: "<at>Chat SDK Demo</at> help",
        entities: [entity],
      }),
    );
    expect(bot.handled.at(-1)?.text).toBe("help");
    expect(bot.handled.at(-1)?.mentionsBot).toBe(true);
  });

  it("ignores channel messages that neither mention the bot nor continue its thread", async () => {
    const before = bot.handled.length;
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: "19:other@thread.tacv2;messageid=42",
      text: "lunch?",
    });
    expect((await deliver(activity)).status).toBe(200);
    expect(bot.handled.length).toBe(before);
    expect(fake.posted()).toHaveLength(0);
    expect(await jobOf(activity)).toMatchObject({
      status: "done",
      result: { ignored: "not addressed to Atom" },
    });
  });

  it("answers a redelivered activity once: the duplicate stops at the door", async () => {
    const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "duplicate please" });
    const jobsBefore = await countRows(run.db, "jobs");
    const [r1, r2] = await Promise.all([postActivity(run.url, activity), postActivity(run.url, activity)]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    await run.drain();
    expect((await deliver(activity)).status).toBe(200);
    expect(await countRows(run.db, "jobs")).toBe(jobsBefore + 1);
    expect(fake.messages()).toHaveLength(1);
    expect(bot.handled.filter((m) => m.text === "duplicate please")).toHaveLength(1);
  });

  it("acks before any outbound call, then shows typing while a slow answer is produced", async () => {
    const slowBot = new RecordingBot();
    slowBot.delayMs = 1200;
    // A second process over the same database; the first one's worker is stopped meanwhile.
    await run.jobs.stop();
    const quick = await startTeams(slowBot, { db: run.db, typingIntervalMs: 200, workingAfterMs: 50 });
    try {
      const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "slow one" });
      // The worker is stopped: the ack cannot have waited for any outbound call.
      await quick.jobs.stop();
      expect((await postActivity(quick.url, activity)).status).toBe(200);
      expect(fake.calls).toHaveLength(0);
      quick.jobs.start();
      await quick.drain();
      const types = fake.posted().map((c) => c.body.type);
      expect(types.at(-1)).toBe("message");
      expect(types.slice(0, -1).every((t) => t === "typing")).toBe(true);
      expect(types.filter((t) => t === "typing").length).toBeGreaterThanOrEqual(3);
      for (const c of fake.posted()) expect(c.activityId).toBe(activity.id);
    } finally {
      await quick.close();
      run.jobs.start();
    }
  });

  it("hands attachments to the bot with their voice-note verdict and posts progress in the same thread", async () => {
    const url = fake.addFile("note.m4a", Buffer.from("fake-audio-bytes"), "audio/mp4");
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000900";
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "channel",
        conversationId: thread,
        text: "<at>Ask Bot</at>",
        entities: [mention(TEST_BOT)],
        attachments: [
          fileAttachment("note.m4a", url),
          fileAttachment("plan.docx", "https://files.example.invalid/plan.docx"),
          audioAttachment("clip.ogg", "https://files.example.invalid/clip.ogg", "audio/ogg"),
          { contentType: "image/png", name: "screen.png", contentUrl: "https://files.example.invalid/s.png" },
          { contentType: "text/html", content: "<p>body</p>" },
        ],
      }),
    );
    const [progress, final] = fake.messages();
    expect(JSON.stringify(progress?.body)).toContain("Got 16 bytes of note.m4a");
    expect(progress?.conversationId).toBe(thread);
    expect(final?.conversationId).toBe(thread);
    const download = fake.calls.find((c) => c.kind === "file");
    expect(download?.headers.authorization).toBeUndefined();
    expect(bot.handled.at(-1)?.files.map((f) => [f.name, f.isVoiceNote])).toEqual([
      ["note.m4a", true],
      ["plan.docx", false],
      ["clip.ogg", true],
      ["screen.png", false],
    ]);
  });

  it("retries an answer the connector failed with 503 (SDK retries, then the job's) and posts it once", async () => {
    const conv = "19:flaky@thread.v2";
    // The connector client tries 4 times per attempt; the 5th failure falls to the job's second attempt.
    fake.fail({ status: 503, kind: "reply", conversationId: conv, bodyType: "message", times: 5 });
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      conversationId: conv,
      text: "<at>Ask Bot</at> again",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(run.url, activity)).status).toBe(200);
    await fake.waitFor(() => fake.messages().some((c) => c.status === 200), 20_000);
    await run.drain();
    expect(fake.messages().filter((c) => c.status === 200)).toHaveLength(1);
    const job = await jobOf(activity);
    expect(job?.status).toBe("done");
    expect(job?.attempts).toBe(2);
    expect(fake.messages().map((c) => c.status)).toEqual([503, 503, 503, 503, 503, 200]);
  });

  it("marks the conversation inactive when Teams refuses the answer with 403 and gives up with the reason", async () => {
    const conv = "19:kicked-out@thread.v2";
    fake.blockConversation(conv, 403);
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      conversationId: conv,
      text: "<at>Ask Bot</at> hi",
      entities: [mention(TEST_BOT)],
    });
    expect((await deliver(activity)).status).toBe(200);
    expect((await run.teams.references.get("default", conv))?.active).toBe(false);
    expect(fake.posted().map((c) => c.body.type)).toEqual(["message"]);
    const job = await jobOf(activity);
    expect(job?.status).toBe("dead");
    expect(job?.lastError).toMatch(/not reachable \(HTTP 403\)/);
  });

  it("records card feedback in the request, once, however often the invoke arrives", async () => {
    const before = bot.feedback.length;
    const invoke = cardActionInvoke({
      serviceUrl: fake.url,
      kind: "personal",
      verb: "atom",
      data: { atomAction: "feedback_up", value: "ans-77", answerId: "ans-77" },
    });
    const r1 = await postActivity(run.url, invoke);
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({
      statusCode: 200,
      type: "application/vnd.microsoft.activity.message",
      value: "Thanks — your feedback was recorded.",
    });
    const r2 = await postActivity(run.url, invoke);
    expect(((await r2.json()) as { value: string }).value).toBe("You already rated this answer.");
    const again = await postActivity(run.url, { ...invoke, id: `${invoke.id}-2` });
    expect(((await again.json()) as { value: string }).value).toBe("You already rated this answer.");
    expect(bot.feedback.length - before).toBe(1);
    expect(bot.feedback.at(-1)).toMatchObject({ answerId: "ans-77", rating: "up", tenantId: "default" });
    expect(fake.posted()).toHaveLength(0);
  });

  it("queues other card buttons as durable jobs and answers them in the conversation", async () => {
    const invoke = cardActionInvoke({
      serviceUrl: fake.url,
      kind: "personal",
      verb: "atom",
      data: { atomAction: "workflow:confirm", value: "wf-1" },
      replyToId: "1717000000444",
    });
    const res = await postActivity(run.url, invoke);
    expect(((await res.json()) as { value: string }).value).toMatch(/I'll answer in this conversation/);
    expect((await postActivity(run.url, invoke)).status).toBe(200);
    await run.drain();
    expect(bot.actions.filter((a) => a.actionId === "workflow:confirm")).toHaveLength(1);
    expect(fake.messages()).toHaveLength(1);
    expect(fake.messages()[0]).toMatchObject({ kind: "reply", activityId: "1717000000444" });
    expect(JSON.stringify(fake.messages()[0]?.body)).toContain("pressed workflow:confirm");
  });

  it("records feedback from Teams' built-in feedback buttons on a sent answer", async () => {
    await deliver(teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "rate me" }));
    const rows = await run.db.query<{ activity_id: string; answer_id: string }>(
      "SELECT activity_id, answer_id FROM teams_sent_messages ORDER BY created_at DESC LIMIT 1",
    );
    const row = rows.rows[0];
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
    await deliver(botAddedUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: conv }));
    const row = await run.teams.references.get("default", conv);
    expect(row).toMatchObject({ active: true, conversationType: "channel", channelId: conv });
    expect(row?.teamsTenantId).toBe(TEST_TEAMS_TENANT);
    await deliver(
      installationUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: conv, action: "remove" }),
    );
    expect((await run.teams.references.get("default", conv))?.active).toBe(false);
  });

  it("rejects malformed, oversized and deeply nested bodies with 400/413, storing nothing", async () => {
    const jobs = await countRows(run.db, "jobs");
    const post = (body: string) =>
      fetch(`${run.url}/api/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    expect((await post("{nope")).status).toBe(400);
    expect((await post("[]")).status).toBe(400);
    const huge = teamsMessage({ serviceUrl: fake.url, text: "x".repeat(1_100_000) });
    expect(await postOnce(run.url, JSON.stringify(huge))).toBe(413);
    // 50 000 levels deep inside `conversation`: refused at the door with a short reason.
    const base = teamsMessage({ serviceUrl: fake.url, text: "deep" });
    const nested = `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`;
    const conversation = JSON.stringify(base.conversation).replace(/}$/, `,"x":${nested}}`);
    const deep = JSON.stringify({ ...base, conversation: "__C__" }).replace('"__C__"', conversation);
    const res = await post(deep);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe(
      "invalid activity: nested deeper than 64 levels",
    );
    await run.drain();
    expect(fake.calls).toHaveLength(0);
    expect(await countRows(run.db, "jobs")).toBe(jobs);
  });
});

describe("proactive messages (Messenger)", () => {
  it("sends from the stored reference after a restart, on the first try", async () => {
    const conv = "19:abc123def@thread.tacv2;messageid=1717000000500";
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "channel",
        conversationId: conv,
        text: "<at>Ask Bot</at> hello",
        entities: [mention(TEST_BOT)],
      }),
    );
    // A fresh adapter (new CloudAdapter, nothing in memory) over the same database.
    const config = loadConfig({ LOG_LEVEL: "silent" });
    const restarted = createTeamsAdapter({
      config,
      db: run.db,
      bot: new RecordingBot(),
      logger: silentLogger,
      // Only its Messenger is used here: no inbound activity reaches this adapter.
      conversations: { register() {}, accept: async () => "accepted" },
    });
    fake.reset();
    const out = await restarted.messenger.send(
      { platform: "teams", tenantId: "default", channelId: "19:abc123def@thread.tacv2", threadId: conv },
      makeReply({ intent: "workflow", text: "Weekly digest is ready" }),
    );
    expect(out.messageId).not.toBe("");
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ kind: "send", conversationId: conv, status: 200 });
    expect(JSON.stringify(fake.calls[0]?.body)).toContain("Weekly digest is ready");
  });

  it("starts a new thread for a channel post (never the bare channel id) and sends to chats directly", async () => {
    const channel = "19:digest-channel@thread.tacv2";
    await deliver(botAddedUpdate({ serviceUrl: fake.url, kind: "channel", conversationId: channel }));
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

  it("sends a direct message to a person by user id: their chat, or a new one", async () => {
    fake.reset();
    await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", userId: TEST_USER.aadObjectId },
      makeReply({ intent: "workflow", text: "to Dana" }),
    );
    expect(fake.calls.map((c) => [c.kind, c.conversationId])).toEqual([
      ["send", `a:1-personal-${TEST_USER.aadObjectId}`],
    ]);
    fake.reset();
    const out = await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", userId: "00000000-0000-4000-8000-0000000000ee" },
      makeReply({ intent: "workflow", text: "to someone new" }),
    );
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({
      kind: "createConversation",
      body: {
        isGroup: false,
        members: [{ id: "00000000-0000-4000-8000-0000000000ee" }],
        tenantId: TEST_TEAMS_TENANT,
      },
    });
    expect(out.messageId).not.toBe("");
    // The new chat is remembered: the next message goes straight to it.
    fake.reset();
    await run.teams.messenger.send(
      { platform: "teams", tenantId: "default", userId: "00000000-0000-4000-8000-0000000000ee" },
      makeReply({ intent: "workflow", text: "again" }),
    );
    expect(fake.calls.map((c) => c.kind)).toEqual(["send"]);
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
    await deliver(botAddedUpdate({ serviceUrl: fake.url, kind: "groupChat", conversationId: conv }));
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

  it("fails clearly for an unknown conversation", async () => {
    await expect(
      run.teams.messenger.send(
        { platform: "teams", tenantId: "default", channelId: "19:never-seen" },
        makeReply({ intent: "x", text: "x" }),
      ),
    ).rejects.toThrow(/no Teams conversation reference/);
  });
});

describe("local mode: where Atom answers, and malformed activities", () => {
  let guard: ReturnType<typeof guardOutbound>;
  beforeEach(() => {
    guard = guardOutbound();
  });
  afterEach(() => {
    guard.restore();
    vi.restoreAllMocks();
  });

  const counts = async () => ({
    refs: await countRows(run.db, "teams_conversations"),
    jobs: await countRows(run.db, "jobs"),
    handled: bot.handled.length,
  });

  it("refuses a loopback activity whose serviceUrl is not on loopback: 400, no outbound call, nothing stored", async () => {
    expect(run.teams.authenticated).toBe(false);
    const accept = vi.spyOn(run.conversations, "accept");
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
    for (const [i, serviceUrl] of elsewhere.entries()) {
      const activity = teamsMessage({
        serviceUrl,
        kind: "personal",
        text: "what is the home office budget?",
        conversationId: `a:elsewhere-${i}`,
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
    await run.drain();
    expect(guard.attempts).toEqual([]);
    expect(accept).not.toHaveBeenCalled();
    expect(fake.calls).toHaveLength(0);
    expect(await counts()).toEqual(before);
  });

  it("refuses an IPv6-literal serviceUrl ([::1]) at the door instead of answering another host", async () => {
    const v6 = await startFakeBotConnector();
    const accept = vi.spyOn(run.conversations, "accept");
    try {
      const port = new URL(v6.url).port;
      const activity = teamsMessage({
        serviceUrl: `http://[::1]:${port}/`,
        kind: "personal",
        text: "v6 please",
      });
      const res = await postActivity(run.url, activity);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /IPv6 address literal is not supported/,
      );
      await run.drain();
      expect(accept).not.toHaveBeenCalled();
      expect(v6.calls).toHaveLength(0);
    } finally {
      await v6.close();
    }
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
        expect((await deliver(activity)).status, serviceUrl).toBe(200);
        expect(other.messages()).toHaveLength(1);
        expect(other.messages()[0]).toMatchObject({ kind: "reply", activityId: activity.id });
        const ref = await run.teams.references.get("default", (activity.conversation as { id: string }).id);
        expect(ref?.reference.serviceUrl).toBe(`http://127.0.0.1:${port}/`);
      }
      expect(guard.attempts).toEqual([]);
      expect(fake.calls).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it("rejects JSON-valid activities of the wrong shape with 400 and a short message, storing nothing", async () => {
    const accept = vi.spyOn(run.conversations, "accept");
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
    await run.drain();
    expect(accept).not.toHaveBeenCalled();
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
      channelData: { tenant: { id: TEST_TEAMS_TENANT }, eventType: "x", settings: {} },
    };
    const accept = vi.spyOn(run.conversations, "accept");
    expect((await deliver(activity)).status).toBe(200);
    expect(bot.handled.at(-1)?.text).toBe("null-tolerant question");
    expect(fake.messages()).toHaveLength(1);
    // The spy the refusal tests rely on does see accepted activities.
    expect(accept).toHaveBeenCalledTimes(1);
  });

  it("without an app id, accepts unauthenticated activities only from loopback, and says so once", async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const teams = createTeamsAdapter({
      config: loadConfig({ LOG_LEVEL: "silent" }),
      db: run.db,
      bot,
      logger,
      conversations: { register() {}, accept: async () => "accepted" },
    });
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
});

const backends: Array<[string, () => Promise<{ db: Db; close: () => Promise<void> }>]> = [
  ["PGlite", async () => ({ db: run.db, close: async () => {} })],
];
if (process.env.TEST_DATABASE_URL) {
  backends.push([
    "PostgreSQL",
    async () => {
      const { openPostgresSchema } = await import("../helpers/memory.ts");
      const { db, drop } = await openPostgresSchema(process.env.TEST_DATABASE_URL as string);
      await migrate(db);
      return {
        db,
        close: async () => {
          await db.close();
          await drop();
        },
      };
    },
  ]);
}

describe.each(backends)("conversation references on %s", (_name, open) => {
  it("saves, refreshes, finds by thread, channel and person, deactivates and maps sent answers", async () => {
    const { db: store, close } = await open();
    try {
      const refs = new TeamsConversations(store);
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
        userId: null,
      });
      expect(got?.reference.activityId).toBeUndefined();
      expect(got?.reference.serviceUrl).toBe("https://smba.example/emea/");
      expect(await refs.get("other-tenant", thread)).toBeNull();
      expect(await refs.counts(tenant)).toEqual({ active: 1, inactive: 0 });

      await refs.markInactive(tenant, channel, "HTTP 403");
      expect(await refs.latestInChannel(tenant, channel)).toMatchObject({
        active: false,
        inactiveReason: "HTTP 403",
      });
      expect(await refs.anyActive(tenant)).toBeNull();
      expect(await refs.counts(tenant)).toEqual({ active: 0, inactive: 1 });
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
      expect((await refs.anyActive(tenant))?.conversationId).toBe(thread);

      await refs.save({
        tenantId: tenant,
        conversationId: "a:1-dm",
        channelId: "a:1-dm",
        teamsTenantId: "tt",
        conversationType: "personal",
        userId: "aad-1",
        reference: { ...reference, conversation: { id: "a:1-dm", conversationType: "personal" } },
      });
      expect((await refs.personalChatOf(tenant, "aad-1"))?.conversationId).toBe("a:1-dm");
      expect(await refs.personalChatOf(tenant, "aad-2")).toBeNull();
      expect(await refs.personalChatOf("other-tenant", "aad-1")).toBeNull();

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

/**
 * POSTs a body on a connection of its own and returns the status (a 413 answered before the body
 * was read closes the connection; a shared keep-alive connection would fail the next request).
 */
function postOnce(baseUrl: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}/api/messages`,
      { method: "POST", agent: false, headers: { "content-type": "application/json" } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

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
