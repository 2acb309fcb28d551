import { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import { SlackReplyStream, STREAM_CHUNK_LIMIT } from "../../src/adapters/slack/stream.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { FakeSlack, type FakeTeam } from "./fakes/slack.ts";

describe("Slack streamed answers against the fake's real rules", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let client: WebClient;
  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TSTR" });
    client = new WebClient(team.botToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 } });
  });
  afterAll(async () => {
    await fake?.close();
  });

  const reply = (text: string) =>
    makeReply({
      intent: "ask",
      text,
      blocks: [{ type: "text", text }],
      citations: [{ n: 1, title: "Spending", uri: "spending.md", heading: null, snippet: "x" }],
    });

  it("in a channel the recipient is named; long text is sent in appends of at most 12 000 characters", async () => {
    fake.reset();
    // Without recipients Slack refuses a channel stream: the fake enforces it.
    const bare = await client.chat
      .startStream({ channel: "CSTR1", thread_ts: "1.1", markdown_text: "x" })
      .catch((e) => e);
    expect(String(bare)).toContain("missing_recipient_user_id");

    const s = new SlackReplyStream(
      client,
      { channel: "CSTR1", threadTs: "1.2", isDirect: false, recipientUserId: "U1", recipientTeamId: "TSTR" },
      silentLogger,
    );
    const long = "a".repeat(STREAM_CHUNK_LIMIT + 500);
    await s.append("Hello <!channel> ");
    await s.append(long);
    expect(s.started).toBe(true);
    await s.finish(reply(`Hello <!channel> ${long}`));
    const appends = fake.callsOf("chat.appendStream");
    expect(appends.every((c) => String(c.params.markdown_text).length <= STREAM_CHUNK_LIMIT)).toBe(true);
    expect(appends.every((c) => !c.error)).toBe(true);
    const msg = fake.posted("CSTR1").find((m) => m.threadTs === "1.2")!;
    expect(msg.text).not.toContain("<!channel>");
    expect(msg.text!.length).toBe(`Hello ‹!channel> ${long}`.length);
    expect(fake.callsOf("chat.stopStream")[0]?.error).toBeUndefined();
    expect(JSON.stringify(msg.blocks)).toContain("spending.md");
    expect(fake.callsOf("chat.update")).toHaveLength(0);
  });

  it("a stream Slack closed (left open too long) is finished with chat.update, never appended to after stop", async () => {
    fake.reset();
    const s = new SlackReplyStream(
      client,
      { channel: "DSTR1", threadTs: "2.1", isDirect: true },
      silentLogger,
    );
    await s.append("The budget is ");
    fake.streamTimeoutMs = 0;
    await new Promise((r) => setTimeout(r, 5));
    await s.append("$2,000 [1]");
    await s.append(" more");
    await s.finish(reply("The budget is $2,000 [1] more"));
    fake.streamTimeoutMs = 5 * 60_000;
    const appends = fake.callsOf("chat.appendStream");
    expect(appends).toHaveLength(1);
    expect(appends[0]!.error).toBe("message_not_in_streaming_state");
    expect(fake.callsOf("chat.stopStream")).toHaveLength(0);
    expect(fake.callsOf("chat.update")).toHaveLength(1);
    const msg = fake.posted("DSTR1").find((m) => m.threadTs === "2.1")!;
    expect(JSON.stringify(msg.blocks)).toContain("$2,000 [1] more");
  });
});
