import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appMention,
  blockActionsBody,
  deliverEvent,
  deliverSigned,
  eventCallback,
  messageEvent,
  nextTs,
  signSlackBody,
  slackFile,
  slashCommandBody,
  TEST_SIGNING_SECRET,
} from "../helpers/slack.ts";
import { OrgDomains } from "../../src/security/org-domains.ts";
import { FakeSlack, type FakeTeam } from "./fakes/slack.ts";
import { type SlackHarness, startSlackHarness } from "./slack-harness.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let channelSeq = 0;
const newChannel = () => `CTEST${++channelSeq}`;

describe("Slack adapter, single workspace (real Bolt + WebClient against a fake Slack)", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let h: SlackHarness;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "T0SINGLE" });
    fake.addUser({ id: "UASKER1", teamId: team.teamId, email: "Ana@Example.com" });
    h = await startSlackHarness(
      fake,
      { SLACK_BOT_TOKEN: team.botToken, SLACK_ALLOWED_BOT_IDS: "BFRIEND1" },
      {
        conversation: { loopGuard: { max: 3, windowMs: 60_000 } },
        retryConfig: { retries: 2, minTimeout: 50, maxTimeout: 200 },
      },
    );
    await fake.waitFor(() => fake.callsOf("auth.test").length > 0, 5000, "auth.test at start");
  });
  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    await h?.close();
    await fake?.close();
  });

  const mention = (text: string, extra: Partial<Parameters<typeof appMention>[0]> = {}) =>
    eventCallback({
      teamId: team.teamId,
      botUserId: team.botUserId,
      event: appMention({ botUserId: team.botUserId, text, teamId: team.teamId, ...extra }),
    });

  it("(d) answers url_verification with the challenge", async () => {
    const body = JSON.stringify({ token: "x", challenge: "chal_7Yq2Lm9Xw4", type: "url_verification" });
    const r = await deliverSigned(`${h.url}/slack/events`, body);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toEqual({ challenge: "chal_7Yq2Lm9Xw4" });
  });

  it("answers a mention once, in the thread, with Block Kit sources, feedback buttons and a working reaction", async () => {
    const channel = newChannel();
    const ts = nextTs();
    h.bot.delayMs = 800;
    try {
      const r = await deliverEvent(h.url, mention("what is the home office budget?", { channel, ts }));
      expect(r.status).toBe(200);
      await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply");
    } finally {
      h.bot.delayMs = 0;
    }
    const [msg] = fake.posted(channel);
    expect(msg?.threadTs).toBe(ts);
    expect(msg?.token).toBe(team.botToken);
    const blocksJson = JSON.stringify(msg?.blocks);
    expect(blocksJson).toContain("spending-company-money.md");
    expect(blocksJson).toContain("feedback_up");
    const asked = h.bot.handled.at(-1);
    expect(asked?.text).toBe("what is the home office budget?");
    expect(asked?.tenantId).toBe("default");
    expect(asked?.threadId).toBe(ts);
    expect(asked?.isDirect).toBe(false);
    expect(asked?.visibility).toBe("thread");
    await fake.waitFor(() => fake.callsOf("reactions.remove").some((c) => c.params.channel === channel));
    expect(fake.callsOf("reactions.add").filter((c) => c.params.channel === channel)).toHaveLength(1);
  });

  it("(a) one reply when the same event arrives three times (retry 0/1/2) while the first is answered", async () => {
    const channel = newChannel();
    h.bot.delayMs = 1500;
    try {
      const payload = mention("question while slow", { channel });
      const acks = [];
      for (const retryNum of [0, 1, 2]) {
        acks.push(await deliverEvent(h.url, payload, retryNum === 0 ? {} : { retryNum }));
        await sleep(150);
      }
      for (const a of acks) expect(a.status).toBe(200);
      // Every delivery was acknowledged while the first one was still being answered.
      expect(fake.posted(channel)).toHaveLength(0);
      await fake.waitFor(() => fake.posted(channel).length >= 1, 6000, "reply");
      await h.drain();
      expect(fake.posted(channel)).toHaveLength(1);
      expect(h.bot.handled.filter((m) => m.channelId === channel)).toHaveLength(1);
    } finally {
      h.bot.delayMs = 0;
    }
  });

  it("(b) one reply when a mention arrives as app_mention (event A) and as message (event B)", async () => {
    const channel = newChannel();
    const ts = nextTs();
    const a = eventCallback({
      teamId: team.teamId,
      eventId: "EvAAAA",
      event: appMention({ botUserId: team.botUserId, text: "hello twice", channel, ts }),
    });
    const b = eventCallback({
      teamId: team.teamId,
      eventId: "EvBBBB",
      event: messageEvent({ text: `<@${team.botUserId}> hello twice`, channel, ts }),
    });
    await Promise.all([deliverEvent(h.url, a), deliverEvent(h.url, b)]);
    await fake.waitFor(() => fake.posted(channel).length >= 1, 5000, "reply");
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
    // The twins share one identity (team + channel + ts): one job row.
    expect((await h.jobRows()).filter((j) => j.job_key === `msg:${channel}:${ts}`)).toHaveLength(1);
  });

  it("two replicas receiving the same event produce one reply", async () => {
    const contributors = h.bot.contributors.length;
    const replica = await startSlackHarness(
      fake,
      { SLACK_BOT_TOKEN: team.botToken },
      {},
      { db: h.db, bot: h.bot },
    );
    try {
      const channel = newChannel();
      h.bot.delayMs = 300;
      const payload = mention("asked of two replicas", { channel });
      const [r1, r2] = await Promise.all([deliverEvent(h.url, payload), deliverEvent(replica.url, payload)]);
      expect([r1.status, r2.status]).toEqual([200, 200]);
      await fake.waitFor(() => fake.posted(channel).length >= 1, 5000, "reply");
      await Promise.all([h.drain(), replica.drain()]);
      expect(fake.posted(channel)).toHaveLength(1);
    } finally {
      h.bot.delayMs = 0;
      await replica.close();
      h.bot.contributors.length = contributors;
    }
  });

  it("processes a retry whose first delivery never arrived", async () => {
    const channel = newChannel();
    const r = await deliverEvent(h.url, mention("first delivery lost", { channel }), { retryNum: 1 });
    expect(r.status).toBe(200);
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply to the retry");
  });

  it("(c) a question inside a thread is answered in that thread", async () => {
    const channel = newChannel();
    await deliverEvent(
      h.url,
      mention("in a thread", { channel, ts: "1717000300.000400", threadTs: "1717000000.000100" }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply");
    expect(fake.posted(channel)[0]?.threadTs).toBe("1717000000.000100");
    // A quick answer needs no working signal.
    expect(fake.callsOf("reactions.add").filter((c) => c.params.channel === channel)).toEqual([]);
  });

  it("answers follow-ups without a mention only in threads Atom is already in", async () => {
    const channel = newChannel();
    const root = nextTs();
    await deliverEvent(h.url, mention("first question", { channel, ts: root }));
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "first reply");
    const follow = eventCallback({
      teamId: team.teamId,
      event: messageEvent({ text: "and for contractors?", channel, threadTs: root }),
    });
    await deliverEvent(h.url, follow);
    await fake.waitFor(() => fake.posted(channel).length === 2, 5000, "follow-up reply");
    expect(fake.posted(channel)[1]?.threadTs).toBe(root);
    const other = eventCallback({
      teamId: team.teamId,
      event: messageEvent({ text: "unrelated chatter", channel, threadTs: nextTs() }),
    });
    await deliverEvent(h.url, other);
    const plain = eventCallback({ teamId: team.teamId, event: messageEvent({ text: "no thread", channel }) });
    await deliverEvent(h.url, plain);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(2);
  });

  it("ignores its own messages, other bots, edits, deletions and joins; answers allow-listed bots", async () => {
    const channel = newChannel();
    const root = nextTs();
    await deliverEvent(h.url, mention("start", { channel, ts: root }));
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "first reply");
    const ignored = [
      messageEvent({ text: "from me", channel, threadTs: root, botId: team.botId, subtype: "bot_message" }),
      messageEvent({
        text: "from a stranger bot",
        channel,
        threadTs: root,
        botId: "BSTRANGER",
        subtype: "bot_message",
      }),
      { ...messageEvent({ text: "edited", channel, threadTs: root, subtype: "message_changed" }) },
      messageEvent({ text: "", channel, threadTs: root, subtype: "message_deleted" }),
      messageEvent({
        text: "<@U9> has joined the channel",
        channel,
        threadTs: root,
        subtype: "channel_join",
      }),
    ];
    await h.drain();
    const jobsBefore = (await h.jobRows()).length;
    for (const e of ignored) {
      expect((await deliverEvent(h.url, eventCallback({ teamId: team.teamId, event: e }))).status).toBe(200);
    }
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
    // Dropped at the door without any I/O: none of them became a job.
    expect((await h.jobRows()).length).toBe(jobsBefore);
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({
          text: "friendly bot asks",
          channel,
          threadTs: root,
          botId: "BFRIEND1",
          subtype: "bot_message",
        }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 2, 5000, "reply to allow-listed bot");
  });

  it("caps replies per thread (loop guard) even when messages pass the filters", async () => {
    const channel = newChannel();
    const root = nextTs();
    await deliverEvent(h.url, mention("start loop", { channel, ts: root }));
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "first reply");
    for (let i = 0; i < 5; i++) {
      await deliverEvent(
        h.url,
        eventCallback({
          teamId: team.teamId,
          event: messageEvent({
            text: `echo ${i}`,
            channel,
            threadTs: root,
            botId: "BFRIEND1",
            subtype: "bot_message",
          }),
        }),
      );
    }
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(3);
  });

  it("DMs carry the asker's e-mail from users.info (cached), and file_share messages are user messages", async () => {
    const channel = "DANA0001";
    const calls0 = fake.callsOf("users.info").length;
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({ text: "my question", channel, channelType: "im" }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "DM reply");
    const dm = h.bot.handled.at(-1);
    expect(dm?.isDirect).toBe(true);
    expect(dm?.userEmail).toBe("ana@example.com");
    const calls1 = fake.callsOf("users.info").length;
    expect(calls1 - calls0).toBeLessThanOrEqual(1);
    const url = fake.addFile("F0VOICE1", Buffer.from("RIFF....WAVEfmt "), {
      mimetype: "audio/wav",
      teamId: team.teamId,
    });
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({
          text: "",
          channel,
          channelType: "im",
          subtype: "file_share",
          files: [slackFile({ id: "F0VOICE1", url, subtype: "slack_audio", durationMs: 3200 })],
        }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 2, 5000, "file_share reply");
    expect(fake.callsOf("users.info").length).toBe(calls1); // cached
    const withFile = h.bot.handled.at(-1);
    const file = withFile?.files[0];
    expect(file?.subtype).toBe("slack_audio");
    expect(file?.durationSeconds).toBeCloseTo(3.2);
    const bytes = await file?.download?.();
    expect(bytes?.toString()).toBe("RIFF....WAVEfmt ");
    const dl = fake.callsOf("files.download").at(-1);
    expect(dl?.token).toBe(team.botToken);
    expect(dl?.error).toBeUndefined();
  });

  it("posts progress replies (e.g. a transcript) in the same thread before the answer", async () => {
    const channel = newChannel();
    const ts = nextTs();
    h.bot.progressReply = {
      intent: "transcribe",
      text: "Transcript: hello",
      blocks: [{ type: "text", text: "Transcript: hello" }],
      citations: [],
      found: true,
      actions: [],
      visibility: "thread",
    };
    try {
      await deliverEvent(h.url, mention("voice", { channel, ts }));
      await fake.waitFor(() => fake.posted(channel).length === 2, 5000, "progress + answer");
    } finally {
      h.bot.progressReply = undefined;
    }
    const [first, second] = fake.posted(channel);
    expect(first?.text).toContain("Transcript: hello");
    expect(first?.threadTs).toBe(ts);
    expect(second?.threadTs).toBe(ts);
  });

  it("long answers are split within Slack's limits and document text can never ping anyone", async () => {
    const channel = newChannel();
    const ts = nextTs();
    h.bot.answerText = () =>
      `Budget <!channel> <!here> @everyone <@U999> & more. ${"lorem ipsum dolor ".repeat(9000)}`;
    try {
      await deliverEvent(h.url, mention("long one", { channel, ts }));
      await fake.waitFor(() => fake.posted(channel).length === 2, 8000, "two messages");
    } finally {
      h.bot.answerText = undefined;
    }
    const attempts = fake.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
    expect(attempts.map((c) => c.error)).toEqual([undefined, undefined]);
    const posted = fake.posted(channel);
    expect(posted.every((m) => m.threadTs === ts)).toBe(true);
    const json = JSON.stringify(posted.map((m) => [m.text, m.blocks]));
    expect(json).not.toMatch(/<!channel>|<!here>|<@U999>/);
    expect(json).not.toMatch(/@everyone/);
    expect(json).toContain("&amp; more");
    for (const m of posted) expect((m.blocks ?? []).length).toBeLessThanOrEqual(50);
  });

  it("(e) a body with escaped unicode and \\/ verifies over the raw bytes", async () => {
    const channel = newChannel();
    const ts = nextTs();
    const raw =
      `{"token":"x","team_id":"${team.teamId}","api_app_id":"AATOM0001","type":"event_callback","event_id":"EvUNI1",` +
      `"event_time":1717000000,"authorizations":[{"team_id":"${team.teamId}","user_id":"${team.botUserId}","is_bot":true}],` +
      `"event":{"type":"app_mention","user":"UASKER1","channel":"${channel}","ts":"${ts}","event_ts":"${ts}",` +
      `"text":"<@${team.botUserId}> caf\\u00e9 budget and\\/or r\\u00e9sum\\u00e9 \\ud83d\\ude00"}}`;
    const r = await deliverSigned(`${h.url}/slack/events`, raw);
    expect(r.status).toBe(200);
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply");
    expect(h.bot.handled.at(-1)?.text).toBe("café budget and/or résumé 😀");
  });

  it("(e) refuses a 6-minute-old timestamp and a bad signature with 401 and runs no handler", async () => {
    const channel = newChannel();
    const before = h.bot.handled.length;
    const body = JSON.stringify(mention("stale", { channel }));
    const old = Math.floor(Date.now() / 1000) - 6 * 60;
    const r = await deliverSigned(`${h.url}/slack/events`, body, { timestamp: old });
    expect(r.status).toBe(401);
    const forged = await fetch(`${h.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signSlackBody("wrong-secret", body) },
      body,
    });
    expect(forged.status).toBe(401);
    const tampered = await fetch(`${h.url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signSlackBody(TEST_SIGNING_SECRET, body) },
      body: body.replace("stale", "stalE"),
    });
    expect(tampered.status).toBe(401);
    await h.drain();
    expect(h.bot.handled.length).toBe(before);
    expect(fake.calls.filter((c) => c.params.channel === channel)).toEqual([]);
    expect((await h.jobRows()).filter((j) => j.job_key.includes(channel))).toEqual([]);
  });

  it("(f) 429 with Retry-After: 1 then 200 → exactly one message, after at least 1 s", async () => {
    const channel = newChannel();
    fake.failNext("chat.postMessage", { status: 429, retryAfter: 1 });
    const t0 = Date.now();
    await deliverEvent(h.url, mention("rate limited", { channel }));
    await fake.waitFor(() => fake.posted(channel).length === 1, 8000, "reply after 429");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const attempts = fake.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
  });

  it("thread_not_found: no post at the channel root and no unhandled rejection", async () => {
    const channel = newChannel();
    fake.loseThread("1717999999.000001");
    await deliverEvent(h.url, mention("lost", { channel, threadTs: "1717999999.000001" }));
    await fake.waitFor(
      () =>
        fake
          .callsOf("chat.postMessage")
          .some((c) => c.params.channel === channel && c.error === "thread_not_found"),
      5000,
      "thread_not_found",
    );
    await h.drain();
    const attempts = fake.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
    expect(attempts).toHaveLength(1);
    expect(attempts.every((c) => c.params.thread_ts === "1717999999.000001")).toBe(true);
    // A permanent refusal is not retried: the job is dead with Slack's reason.
    const dead = (await h.jobRows("dead")).filter((j) => j.job_key.startsWith(`msg:${channel}:`));
    expect(dead.map((j) => j.last_error)).toEqual(["Slack refused chat.postMessage (thread_not_found)"]);
    expect(unhandled).toEqual([]);
  });

  it("(g) /atom: ack < 3 s with an ephemeral 'working', answer (8 s later) at response_url with a share button; Enter twice runs once", async () => {
    const channel = newChannel();
    const responseUrl = fake.responseUrl();
    h.bot.delayMs = 8000;
    const before = h.bot.handled.length;
    try {
      const body = slashCommandBody({
        teamId: team.teamId,
        text: "what is the home office budget?",
        responseUrl,
        channelId: channel,
      });
      const first = await deliverSigned(`${h.url}/slack/events`, body);
      expect(first.status).toBe(200);
      // Acknowledged before the (8 s) answer exists.
      expect(fake.responses(responseUrl)).toHaveLength(0);
      expect(JSON.parse(first.text)).toMatchObject({ response_type: "ephemeral" });
      expect(first.text).toMatch(/Working/);
      const second = await deliverSigned(
        `${h.url}/slack/events`,
        slashCommandBody({
          teamId: team.teamId,
          text: "what is the home office budget?",
          responseUrl,
          channelId: channel,
        }),
      );
      expect(second.status).toBe(200);
      await fake.waitFor(() => fake.responses(responseUrl).length >= 1, 12_000, "answer at response_url");
    } finally {
      h.bot.delayMs = 0;
    }
    await h.drain();
    expect(h.bot.handled.length - before).toBe(1);
    const asked = h.bot.handled.at(-1);
    expect(asked?.visibility).toBe("ephemeral");
    expect(asked?.userEmail).toBe("ana@example.com");
    const [answer] = fake.responses(responseUrl);
    expect(answer?.response_type).toBe("ephemeral");
    expect(JSON.stringify(answer?.blocks)).toContain("share_in_channel");
    expect(fake.posted(channel)).toHaveLength(0);

    // Share in channel: posted once, even when pressed twice.
    const shareId = findButtonValue(answer?.blocks, "share_in_channel");
    const press = () =>
      deliverSigned(
        `${h.url}/slack/events`,
        blockActionsBody({
          teamId: team.teamId,
          actionId: "share_in_channel",
          value: shareId,
          responseUrl,
          channelId: channel,
        }),
      );
    expect((await press()).status).toBe(200);
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "shared message");
    await press();
    await fake.waitFor(
      () => fake.responses(responseUrl).some((r) => String(r.text).includes("already shared")),
      5000,
      "already shared notice",
    );
    expect(fake.posted(channel)).toHaveLength(1);
    expect(fake.posted(channel)[0]?.threadTs).toBeUndefined();
    expect(JSON.stringify(fake.posted(channel)[0]?.blocks)).not.toContain("share_in_channel");
  }, 30_000);

  it("👍/👎 buttons record feedback once per person", async () => {
    const responseUrl = fake.responseUrl();
    const press = (actionId: string) =>
      deliverSigned(
        `${h.url}/slack/events`,
        blockActionsBody({ teamId: team.teamId, actionId, value: "ans-feedback-1", responseUrl }),
      );
    expect((await press("feedback_up")).status).toBe(200);
    await fake.waitFor(() => fake.responses(responseUrl).length === 1, 5000, "thanks");
    await press("feedback_down");
    await fake.waitFor(() => fake.responses(responseUrl).length === 2, 5000, "already rated");
    expect(h.bot.feedback.filter((f) => f.answerId === "ans-feedback-1")).toEqual([
      { tenantId: "default", platform: "slack", answerId: "ans-feedback-1", userId: "UASKER1", rating: "up" },
    ]);
    expect(String(fake.responses(responseUrl)[1]?.text)).toContain("already rated");
  });

  it("sends proactive messages through the Messenger with the workspace token", async () => {
    const channel = newChannel();
    const r = await h.adapter.messenger.send(
      { platform: "slack", tenantId: "default", channelId: channel, threadId: "1717000000.000100" },
      {
        intent: "workflow",
        text: "Weekly digest <!channel>",
        blocks: [{ type: "text", text: "Weekly digest <!channel>" }],
        citations: [],
        found: true,
        actions: [],
        visibility: "thread",
      },
    );
    expect(r.messageId).toMatch(/^\d+\.\d+$/);
    const [m] = fake.posted(channel);
    expect(m?.threadTs).toBe("1717000000.000100");
    expect(JSON.stringify(m?.blocks)).not.toContain("<!channel>");
  });

  it("refuses proactive sends to unknown tenants, and answers DMs without an e-mail when users.info has none", async () => {
    await expect(
      h.adapter.messenger.send(
        { platform: "slack", tenantId: "slack:TNOBODY", channelId: "C1" },
        { intent: "x", text: "x", blocks: [], citations: [], found: true, actions: [], visibility: "thread" },
      ),
    ).rejects.toThrow(/no Slack installation/);
    fake.addUser({ id: "UNOMAIL", teamId: team.teamId });
    const channel = "DNOMAIL1";
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({ text: "hi", channel, channelType: "im", user: "UNOMAIL" }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "DM reply");
    expect(h.bot.handled.at(-1)?.userEmail).toBeUndefined();
    expect(h.bot.handled.at(-1)?.isDirect).toBe(true);
  });

  it("channel mentions carry the asker's time zone and admin flag from users.info, but not the e-mail", async () => {
    fake.addUser({
      id: "UADMIN01",
      teamId: team.teamId,
      email: "boss@example.com",
      tz: "Europe/Berlin",
      isOwner: true,
    });
    fake.addUser({ id: "UMEMBER1", teamId: team.teamId, email: "m@example.com", tz: "Asia/Tokyo" });
    const channel = "CPROFILE1";
    await deliverEvent(h.url, mention("who am I?", { channel, user: "UADMIN01" }));
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply to the owner");
    const byOwner = h.bot.handled.at(-1);
    expect(byOwner?.userTimeZone).toBe("Europe/Berlin");
    expect(byOwner?.userIsAdmin).toBe(true);
    expect(byOwner?.userEmail).toBeUndefined();
    await deliverEvent(h.url, mention("and me?", { channel, user: "UMEMBER1" }));
    await fake.waitFor(() => fake.posted(channel).length === 2, 5000, "reply to the member");
    const byMember = h.bot.handled.at(-1);
    expect(byMember?.userTimeZone).toBe("Asia/Tokyo");
    expect(byMember?.userIsAdmin).toBe(false);
  });

  it("Socket Mode connects through apps.connections.open at SLACK_API_URL with the app token, and mounts no Request URL", async () => {
    const contributors = h.bot.contributors.length;
    const socket = await startSlackHarness(
      fake,
      { SLACK_BOT_TOKEN: team.botToken, SLACK_APP_TOKEN: "xapp-1-A0-1-socket" },
      {},
      { db: h.db, bot: h.bot },
    );
    try {
      await fake.waitFor(
        () => fake.callsOf("apps.connections.open").length > 0,
        5000,
        "apps.connections.open",
      );
      expect(fake.callsOf("apps.connections.open")[0]?.token).toBe("xapp-1-A0-1-socket");
      const r = await deliverEvent(
        socket.url,
        eventCallback({ teamId: team.teamId, event: messageEvent({ text: "x" }) }),
      );
      expect(r.status).toBe(404);
    } finally {
      await socket.close();
      h.bot.contributors.length = contributors;
    }
  });

  it("invalid_auth/account_inactive marks the workspace broken in status", async () => {
    const [line] = await h.bot.status("default");
    expect(line).toMatch(
      /^Slack: connected \(single workspace; auth\.test ok at \d{4}-\d\d-\d\dT[\d:]{8}Z\)\.$/,
    );
    const channel = newChannel();
    fake.failNext("chat.postMessage", { error: "account_inactive" });
    await deliverEvent(h.url, mention("after deactivation", { channel }));
    await fake.waitFor(
      () => fake.callsOf("chat.postMessage").some((c) => c.params.channel === channel),
      5000,
      "post attempt",
    );
    await h.drain();
    expect((await h.bot.status("default"))[0]).toMatch(
      /^Slack: not working \(token refused \(account_inactive\) at .*\)\. Check SLACK_BOT_TOKEN\.$/,
    );
    expect(unhandled).toEqual([]);
  });
});

describe("Slack adapter, OAuth installs (many workspaces)", () => {
  let fake: FakeSlack;
  let h: SlackHarness;
  const env = () => ({
    SLACK_CLIENT_ID: fake.clientId,
    SLACK_CLIENT_SECRET: fake.clientSecret,
    SLACK_STATE_SECRET: TEST_SECRETS.slackStateSecret,
  });

  beforeAll(async () => {
    fake = await FakeSlack.start();
    h = await startSlackHarness(fake, env(), { stateTtlSeconds: 600 });
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  const startInstall = async () => {
    const r = await fetch(`${h.url}/slack/install`, { redirect: "manual" });
    expect(r.status).toBe(302);
    const location = new URL(r.headers.get("location") ?? "");
    expect(location.origin + location.pathname).toBe("https://slack.com/oauth/v2/authorize");
    expect(location.searchParams.get("client_id")).toBe(fake.clientId);
    expect(location.searchParams.get("scope")).toContain("app_mentions:read");
    const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(r.headers.get("set-cookie")).toMatch(/HttpOnly/i);
    return { state: location.searchParams.get("state") ?? "", cookie };
  };
  const redirect = (q: Record<string, string>, cookie?: string) =>
    fetch(`${h.url}/slack/oauth_redirect?${new URLSearchParams(q)}`, { headers: cookie ? { cookie } : {} });
  const installCount = async () =>
    Number(
      (await h.db.query<{ n: number }>("SELECT count(*)::int AS n FROM slack_installations")).rows[0]?.n,
    );

  it("(h) refuses missing, other-browser, expired and reused state; stores nothing", async () => {
    fake.addOAuthCode("code-refused", { teamId: "TREFUSED" });
    const exchanges0 = fake.callsOf("oauth.v2.access").length;

    const missing = await redirect({ code: "code-refused" });
    expect(missing.status).toBe(400);

    const a = await startInstall();
    const otherBrowser = await redirect(
      { code: "code-refused", state: a.state },
      "atom_slack_oauth=someone-else",
    );
    expect(otherBrowser.status).toBe(400);
    expect(await otherBrowser.text()).toMatch(/another browser/);
    const noCookie = await startInstall();
    expect((await redirect({ code: "code-refused", state: noCookie.state })).status).toBe(400);

    const b = await startInstall();
    await h.db.query("UPDATE oauth_states SET expires_at = now() - interval '1 minute'");
    const expired = await redirect({ code: "code-refused", state: b.state }, b.cookie);
    expect(expired.status).toBe(400);
    expect(await expired.text()).toMatch(/expired/);

    expect(fake.callsOf("oauth.v2.access").length).toBe(exchanges0);
    expect(await installCount()).toBe(0);

    // A good install, then the same state again: refused, still one installation.
    fake.addOAuthCode("code-good-1", { teamId: "TGOOD1", teamName: "Good One" });
    const c = await startInstall();
    const ok = await redirect({ code: "code-good-1", state: c.state }, c.cookie);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("Good One");
    const reused = await redirect({ code: "code-good-1", state: c.state }, c.cookie);
    expect(reused.status).toBe(400);
    expect(await installCount()).toBe(1);
    expect(fake.callsOf("oauth.v2.access").length).toBe(exchanges0 + 1);
  });

  it("learns the workspace's organisation domain from the installer's e-mail", async () => {
    fake.addUser({ id: "UINSTALL1", teamId: "TDOMAIN", email: "Founder@Acme-Widgets.io" });
    fake.addOAuthCode("code-domain", { teamId: "TDOMAIN", teamName: "Acme", installerUserId: "UINSTALL1" });
    const s = await startInstall();
    expect((await redirect({ code: "code-domain", state: s.state }, s.cookie)).status).toBe(200);
    expect(await new OrgDomains(h.db, []).forTenant("slack:TDOMAIN")).toEqual(["acme-widgets.io"]);
    const lookup = fake.callsOf("users.info").at(-1);
    expect(lookup?.params.user).toBe("UINSTALL1");
  });

  it("stores tokens sealed, answers each workspace with its own token, rotates expiring tokens", async () => {
    fake.addOAuthCode("code-rot", { teamId: "TROT", teamName: "Rotating", rotate: true, expiresIn: 120 });
    const s = await startInstall();
    expect((await redirect({ code: "code-rot", state: s.state }, s.cookie)).status).toBe(200);
    const row = (
      await h.db.query<{ bot_token_sealed: string; refresh_token_sealed: string }>(
        "SELECT bot_token_sealed, refresh_token_sealed FROM slack_installations WHERE tenant_id = 'slack:TROT'",
      )
    ).rows[0];
    expect(row?.bot_token_sealed).toMatch(/^v2\./);
    expect(row?.bot_token_sealed).not.toContain("xoxe");
    expect(row?.refresh_token_sealed).toMatch(/^v2\./);

    // The token expires in 2 minutes: the next event refreshes it first and uses the new one.
    const channel = newChannel();
    const teamInfo = await h.db.query<{ bot_user_id: string }>(
      "SELECT bot_user_id FROM slack_installations WHERE tenant_id = 'slack:TROT'",
    );
    const botUserId = teamInfo.rows[0]?.bot_user_id ?? "";
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TROT",
        botUserId,
        event: appMention({ botUserId, text: "rotated?", channel, teamId: "TROT" }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 8000, "reply with rotated token");
    const refreshes = fake.callsOf("oauth.v2.access").filter((c) => c.params.grant_type === "refresh_token");
    expect(refreshes).toHaveLength(1);
    expect(fake.posted(channel)[0]?.token).toMatch(/^xoxe\.xoxb-1-TROT-/);
    expect(h.bot.handled.at(-1)?.tenantId).toBe("slack:TROT");

    // Another workspace gets its own token.
    fake.addOAuthCode("code-two", { teamId: "TTWO", teamName: "Two" });
    const t = await startInstall();
    expect((await redirect({ code: "code-two", state: t.state }, t.cookie)).status).toBe(200);
    const channel2 = newChannel();
    const bu2 =
      (
        await h.db.query<{ bot_user_id: string }>(
          "SELECT bot_user_id FROM slack_installations WHERE tenant_id = 'slack:TTWO'",
        )
      ).rows[0]?.bot_user_id ?? "";
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TTWO",
        botUserId: bu2,
        event: appMention({ botUserId: bu2, text: "hi", channel: channel2, teamId: "TTWO" }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel2).length === 1, 5000, "reply in team two");
    expect(fake.posted(channel2)[0]?.token).toMatch(/^xoxb-TTWO-/);
    expect(h.bot.handled.at(-1)?.tenantId).toBe("slack:TTWO");

    // A revoked token marks that installation broken in status, not the others.
    fake.revokeToken(fake.posted(channel2)[0]?.token ?? "", "invalid_auth");
    const channel3 = newChannel();
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TTWO",
        botUserId: bu2,
        event: appMention({ botUserId: bu2, text: "again", channel: channel3, teamId: "TTWO" }),
      }),
    );
    await fake.waitFor(
      () =>
        fake
          .callsOf("chat.postMessage")
          .some((c) => c.params.channel === channel3 && c.error === "invalid_auth"),
      5000,
      "invalid_auth",
    );
    await h.drain();
    expect((await h.bot.status("slack:TTWO"))[0]).toMatch(/broken \(invalid_auth\).*slack\/install/);
    expect((await h.bot.status("slack:TROT"))[0]).toMatch(
      /^Slack: installed in Rotating \(auth\.test ok at .*Z\)\.$/,
    );
  });

  it("(i) app_uninstalled purges the team's installation, events and memory; other teams stay", async () => {
    fake.addOAuthCode("code-gone", { teamId: "TGONE", teamName: "Leaving" });
    const s = await startInstall();
    expect((await redirect({ code: "code-gone", state: s.state }, s.cookie)).status).toBe(200);
    const bu =
      (
        await h.db.query<{ bot_user_id: string }>(
          "SELECT bot_user_id FROM slack_installations WHERE tenant_id = 'slack:TGONE'",
        )
      ).rows[0]?.bot_user_id ?? "";
    const channel = newChannel();
    await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TGONE",
        botUserId: bu,
        event: appMention({ botUserId: bu, text: "bye", channel, teamId: "TGONE" }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 5000, "reply before uninstall");
    const count = async (sql: string) => Number((await h.db.query<{ n: number }>(sql)).rows[0]?.n);
    await h.drain();
    expect(
      await count(
        "SELECT count(*)::int AS n FROM jobs WHERE tenant_id = 'slack:TGONE' AND queue = 'inbound'",
      ),
    ).toBe(1);

    const r = await deliverEvent(
      h.url,
      eventCallback({ teamId: "TGONE", event: { type: "app_uninstalled", event_ts: nextTs() } }),
    );
    expect(r.status).toBe(200);
    await fake.waitFor(() => h.purged.includes("slack:TGONE"), 5000, "memory purge");
    expect(
      await count("SELECT count(*)::int AS n FROM slack_installations WHERE tenant_id = 'slack:TGONE'"),
    ).toBe(0);
    expect(
      await count(
        "SELECT count(*)::int AS n FROM jobs WHERE tenant_id = 'slack:TGONE' AND queue = 'inbound'",
      ),
    ).toBe(0);
    expect(
      await count("SELECT count(*)::int AS n FROM slack_installations WHERE tenant_id = 'slack:TROT'"),
    ).toBe(1);
    expect(h.purged).toEqual(["slack:TGONE"]);

    // tokens_revoked for the bot token purges too.
    const r2 = await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TTWO",
        event: { type: "tokens_revoked", tokens: { oauth: [], bot: ["UBOT"] }, event_ts: nextTs() },
      }),
    );
    expect(r2.status).toBe(200);
    await fake.waitFor(() => h.purged.includes("slack:TTWO"), 5000, "purge on tokens_revoked");
    expect(
      await count("SELECT count(*)::int AS n FROM slack_installations WHERE tenant_id = 'slack:TTWO'"),
    ).toBe(0);
  });

  it("tokens_revoked for user tokens only keeps the installation", async () => {
    fake.addOAuthCode("code-keep", { teamId: "TKEEP", teamName: "Keep" });
    const s = await startInstall();
    expect((await redirect({ code: "code-keep", state: s.state }, s.cookie)).status).toBe(200);
    const r = await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TKEEP",
        event: { type: "tokens_revoked", tokens: { oauth: ["U1"] }, event_ts: nextTs() },
      }),
    );
    expect(r.status).toBe(200);
    await h.drain();
    const n = await h.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM slack_installations WHERE tenant_id = 'slack:TKEEP'",
    );
    expect(n.rows[0]?.n).toBe(1);
    expect(h.purged).not.toContain("slack:TKEEP");
  });

  it("ignores events of workspaces that never installed Atom", async () => {
    const channel = newChannel();
    const r = await deliverEvent(
      h.url,
      eventCallback({
        teamId: "TSTRANGER",
        event: appMention({ botUserId: "UX", text: "hi", channel, teamId: "TSTRANGER" }),
      }),
    );
    expect(r.status).toBe(200);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(0);
    expect((await h.jobRows("done")).filter((j) => j.job_key.startsWith(`msg:${channel}:`))).toHaveLength(1);
  });
});

function findButtonValue(blocks: unknown, actionId: string): string {
  for (const b of (blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[]) ?? []) {
    for (const e of b.elements ?? []) if (e.action_id === actionId && e.value) return e.value;
  }
  throw new Error(`no button ${actionId}`);
}
