/**
 * Streamed answers in Teams personal chats ("Stream bot messages"): the real botbuilder connector
 * client posting to the loopback fake Bot Connector, which checks the protocol as Teams does
 * (1:1 only, stream id from the first update, rising sequence, cumulative text, final message,
 * about one request per second). Group chats and channels keep one final message; any streaming
 * error falls back to one ordinary message.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import type { HandleOptions } from "../../src/bot/types.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import { mention, postActivity, TEST_BOT, TEST_USER, teamsMessage } from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "./fakes/botframework.ts";
import { RecordingBot, type RunningTeams, startTeams } from "./teams-harness.ts";

const PIECES = ["New teammates ", "can spend up to ", "$2,000 on desk setup ", "[1]."];
const ANSWER = PIECES.join("");
const SOURCE = "https://docs.example.com/handbook/spending-company-money";

/** A bot that writes its answer the way generated answers do: a status, then text in pieces. */
class StreamingBot extends RecordingBot {
  /** Runs between two pieces (e.g. to inject a failure once the stream is open). */
  between: (i: number) => Promise<void> = async () => {};
  pauseMs = 350;

  override async handle(msg: ChatMessage, opts?: HandleOptions) {
    this.handled.push(msg);
    await opts?.stream?.status?.("searching…");
    for (const [i, piece] of PIECES.entries()) {
      await new Promise((r) => setTimeout(r, this.pauseMs));
      await opts?.stream?.append(piece);
      await this.between(i);
    }
    return makeReply({
      intent: "ask",
      text: ANSWER,
      citations: [{ n: 1, title: "Spending company money", uri: SOURCE, heading: null, snippet: "$2,000" }],
      actions: [{ id: "feedback_up", label: "👍", value: "a1" }],
      answerId: "a1",
    });
  }
}

let fake: FakeBotConnector;
let bot: StreamingBot;
let run: RunningTeams;

beforeAll(async () => {
  // The fake refuses updates of a stream closer than 900 ms apart (Teams: ~1 per second).
  fake = await startFakeBotConnector({ streamMinIntervalMs: 900 });
  fake.addMember({ id: TEST_USER.id, aadObjectId: TEST_USER.aadObjectId, email: "dana@example.com" });
  bot = new StreamingBot();
  run = await startTeams(bot);
});
afterAll(async () => {
  await run?.close();
  await fake?.close();
});
beforeEach(() => {
  fake.reset();
  bot.between = async () => {};
});

/** The stream fields of a posted activity: its `streaminfo` entity (fields from channelData when the SDK kept only the type). */
const streamInfo = (c: { body: Record<string, unknown> }) => {
  const e = (c.body.entities as Array<Record<string, unknown>> | undefined)?.find(
    (x) => x.type === "streaminfo",
  );
  if (!e) return undefined;
  return e.streamType !== undefined ? e : { ...e, ...(c.body.channelData as Record<string, unknown>) };
};

async function ask(kind: "personal" | "groupChat", text = "how much is the home office budget?") {
  const activity = teamsMessage({
    serviceUrl: fake.url,
    kind,
    text: kind === "personal" ? text : `<at>Ask Bot</at> ${text}`,
    ...(kind === "personal" ? {} : { entities: [mention(TEST_BOT)] }),
  });
  expect((await postActivity(run.url, activity)).status).toBe(200);
  await run.drain();
  return activity;
}

describe("Teams streaming in personal chat", () => {
  it("informative update, cumulative typing updates ~1/s, then one final message with the sources as links", async () => {
    const activity = await ask("personal");
    const conv = (activity.conversation as { id: string }).id;
    const streams = fake.streams();
    expect(streams).toHaveLength(1);
    const s = streams[0]!;
    expect(s.ended).toBe(true);
    expect(s.conversationId).toBe(conv);
    // Sent to the conversation, as Microsoft documents it: POST /v3/conversations/{id}/activities.
    const posts = fake.posted().filter((c) => streamInfo(c));
    for (const c of posts) {
      expect(c.kind).toBe("send");
      expect(c.method).toBe("POST");
      expect(c.path).toBe(`/v3/conversations/${encodeURIComponent(conv)}/activities`);
      expect(c.status).toBe(201);
    }
    const [first, ...rest] = s.activities;
    expect(first).toMatchObject({
      type: "typing",
      streamType: "informative",
      sequence: 1,
      text: "searching…",
    });
    const updates = rest.filter((a) => a.streamType === "streaming");
    expect(updates.length).toBeGreaterThanOrEqual(1);
    // Each update carries the whole text so far; the sequence rises; the last one is complete.
    let previous = "";
    let seq = 1;
    for (const u of updates) {
      expect(u.type).toBe("typing");
      expect(u.text!.startsWith(previous)).toBe(true);
      expect(u.sequence).toBeGreaterThan(seq);
      previous = u.text!;
      seq = u.sequence!;
    }
    expect(ANSWER.startsWith(previous)).toBe(true);
    // Every later post names the stream id the first one was given.
    for (const c of posts.slice(1)) expect(streamInfo(c)?.streamId).toBe(s.streamId);
    // The streaminfo entity itself arrives with its fields (not only its `type`).
    for (const c of posts) {
      const entity = (c.body.entities as Array<Record<string, unknown>>).find((e) => e.type === "streaminfo");
      expect(entity?.streamType).toBe((c.body.channelData as Record<string, unknown>).streamType);
    }
    // The documented throttle: no 429 seen, posts at least ~1 s apart.
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(0);
    for (let i = 1; i < s.activities.length; i++)
      expect(s.activities[i]!.at - s.activities[i - 1]!.at).toBeGreaterThanOrEqual(900);
    // One final message: the answer card with the source linked at the end, and the buttons.
    const last = s.activities.at(-1)!;
    expect(last).toMatchObject({ type: "message", streamType: "final" });
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    const card = JSON.stringify(messages[0]!.body.attachments);
    expect(card).toContain("$2,000 on desk setup [1].");
    expect(card).toContain(`[Spending company money](${SOURCE})`);
    expect(card).toContain("feedback_up");
    expect(streamInfo(messages[0]!)).toMatchObject({
      type: "streaminfo",
      streamId: s.streamId,
      streamType: "final",
    });
    // Feedback on the streamed answer finds it again (the final message's id is recorded).
    const sent = await run.db.query("SELECT answer_id FROM teams_sent_messages WHERE answer_id = 'a1'");
    expect(sent.rowCount).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("a throttled update (429 Retry-After) is retried after the wait; the stream still ends with its final message", async () => {
    fake.fail({ status: 429, retryAfter: 1, kind: "send", bodyType: "typing", times: 1 });
    await ask("personal");
    const throttled = fake.calls.filter((c) => c.status === 429);
    expect(throttled).toHaveLength(1);
    expect(throttled[0]!.errorCode).toBe("Throttled");
    const s = fake.streams()[0]!;
    expect(s.activities.at(-1)).toMatchObject({ type: "message", streamType: "final" });
    expect(fake.messages()).toHaveLength(1);
  }, 30_000);

  it("falls back to one ordinary message when a streaming update fails", async () => {
    bot.between = async (i) => {
      // The stream is open; the next update is refused (as when the user presses Stop).
      if (i === 0) {
        await fake.waitFor(() => fake.streams().length === 1);
        fake.fail({ status: 400, kind: "send", bodyType: "typing", times: 5 });
      }
    };
    await ask("personal");
    const s = fake.streams()[0]!;
    expect(s.ended).toBe(false);
    expect(s.activities.every((a) => a.type === "typing")).toBe(true);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(streamInfo(messages[0]!)).toBeUndefined();
    expect(JSON.stringify(messages[0]!.body.attachments)).toContain(`[Spending company money](${SOURCE})`);
  }, 30_000);

  it("falls back to one ordinary message when the final message naming the stream is refused", async () => {
    fake.fail({ status: 403, kind: "send", bodyType: "message", times: 1 });
    await ask("personal");
    const messages = fake.messages();
    expect(messages.map((m) => m.status)).toEqual([403, 200]);
    expect(streamInfo(messages[0]!)?.streamType).toBe("final");
    expect(streamInfo(messages[1]!)).toBeUndefined();
    expect(JSON.stringify(messages[1]!.body.attachments)).toContain("$2,000 on desk setup [1].");
  }, 30_000);

  it("a group chat gets one final message and no streaming activity", async () => {
    await ask("groupChat");
    expect(fake.streams()).toHaveLength(0);
    expect(fake.posted().filter((c) => streamInfo(c))).toHaveLength(0);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(JSON.stringify(messages[0]!.body.attachments)).toContain(`[Spending company money](${SOURCE})`);
  }, 30_000);

  it("the fake refuses what Teams refuses (so the checks above can fail)", async () => {
    const conv = "a:1-personal-fake-check";
    const post = (body: Record<string, unknown>) =>
      fetch(`${fake.url}v3/conversations/${encodeURIComponent(conv)}/activities`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ conversation: { id: conv, conversationType: "personal" }, ...body }),
      });
    const si = (e: Record<string, unknown>) => [{ type: "streaminfo", ...e }];
    const start = await post({
      type: "typing",
      text: "Hello",
      entities: si({ streamType: "streaming", streamSequence: 1 }),
    });
    expect(start.status).toBe(201);
    const { id } = (await start.json()) as { id: string };
    const tooSoon = await post({
      type: "typing",
      text: "Hello you",
      entities: si({ streamId: id, streamType: "streaming", streamSequence: 2 }),
    });
    expect(tooSoon.status).toBe(429);
    expect(tooSoon.headers.get("retry-after")).toBe("1");
    await new Promise((r) => setTimeout(r, 950));
    const notCumulative = await post({
      type: "typing",
      text: "Bye",
      entities: si({ streamId: id, streamType: "streaming", streamSequence: 2 }),
    });
    expect(notCumulative.status).toBe(400);
    const backwards = await post({
      type: "typing",
      text: "Hello you",
      entities: si({ streamId: id, streamType: "streaming", streamSequence: 1 }),
    });
    expect(backwards.status).toBe(400);
    const end = await post({
      type: "message",
      text: "Hello you",
      entities: si({ streamId: id, streamType: "final" }),
    });
    expect(end.status).toBe(201);
    await new Promise((r) => setTimeout(r, 950));
    const after = await post({
      type: "typing",
      text: "Hello you!",
      entities: si({ streamId: id, streamType: "streaming", streamSequence: 3 }),
    });
    expect(after.status).toBe(403);
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe("ContentStreamNotAllowed");
    const group = await fetch(
      `${fake.url}v3/conversations/${encodeURIComponent("19:g@thread.v2")}/activities`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "typing",
          text: "x",
          conversation: { id: "19:g@thread.v2", conversationType: "groupChat" },
          entities: si({ streamType: "informative", streamSequence: 1 }),
        }),
      },
    );
    expect(group.status).toBe(400);
  }, 30_000);
});
