import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appMention,
  blockActionsBody,
  deliverEvent,
  deliverSigned,
  eventCallback,
  nextTs,
  slashCommandBody,
} from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "./fakes/slack.ts";
import { type SlackHarness, startSlackHarness } from "./slack-harness.ts";

/**
 * Signed but malformed or odd Slack deliveries are refused at the door (400) or acknowledged
 * without a job — never acknowledged and then dropped — and nothing reaches the bot or Slack.
 */
describe("Slack adapter: hostile and malformed deliveries", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let h: SlackHarness;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "THOSTILE" });
    h = await startSlackHarness(fake, { SLACK_BOT_TOKEN: team.botToken });
    await fake.waitFor(() => fake.callsOf("auth.test").length > 0, 10_000, "auth.test at start");
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  const url = () => `${h.url}/slack/events`;
  const mention = (event: Record<string, unknown>) =>
    eventCallback({ teamId: team.teamId, botUserId: team.botUserId, event });
  const good = () =>
    appMention({ botUserId: team.botUserId, text: "budget?", channel: "CHOSTILE", teamId: team.teamId });

  it("refuses malformed payloads with 400 and records no job", async () => {
    const cases: [string, string, string?][] = [
      // A valid event with a content type Slack never uses.
      ["wrong content type", JSON.stringify(mention(good())), "text/plain"],
      ["JSON array", "[1,2,3]", "application/json"],
      ["not JSON", "{not json", "application/json"],
      ["no type", JSON.stringify({ event: good() }), "application/json"],
      ["no event", JSON.stringify({ ...mention(good()), event: undefined }), "application/json"],
      ["channel is a number", JSON.stringify(mention({ ...good(), channel: 42 })), "application/json"],
      ["no ts", JSON.stringify(mention({ ...good(), ts: undefined })), "application/json"],
      [
        "ts is not a Slack ts",
        JSON.stringify(mention({ ...good(), ts: "'; DROP TABLE jobs;--" })),
        "application/json",
      ],
      ["text is an object", JSON.stringify(mention({ ...good(), text: { a: 1 } })), "application/json"],
      ["files is not a list", JSON.stringify(mention({ ...good(), files: "F1" })), "application/json"],
      [
        "no team",
        JSON.stringify({ ...mention(good()), team_id: undefined, authorizations: [] }),
        "application/json",
      ],
      [
        "url_verification without challenge",
        JSON.stringify({ type: "url_verification" }),
        "application/json",
      ],
      [
        "/atom without channel_id",
        new URLSearchParams(
          [
            ...new URLSearchParams(
              slashCommandBody({ teamId: team.teamId, text: "hi", responseUrl: fake.responseUrl() }),
            ),
          ].filter(([k]) => k !== "channel_id"),
        ).toString(),
      ],
      [
        "/atom without user_id",
        new URLSearchParams(
          [
            ...new URLSearchParams(
              slashCommandBody({ teamId: team.teamId, text: "hi", responseUrl: fake.responseUrl() }),
            ),
          ].filter(([k]) => k !== "user_id"),
        ).toString(),
      ],
      [
        "/atom with a javascript: response_url",
        slashCommandBody({ teamId: team.teamId, text: "hi", responseUrl: "javascript:alert(1)" }),
      ],
      ["interactivity payload that is not JSON", "payload=%7Bnope"],
      [
        "block_actions without actions",
        new URLSearchParams({
          payload: JSON.stringify({
            ...JSON.parse(
              new URLSearchParams(
                blockActionsBody({
                  teamId: team.teamId,
                  actionId: "feedback_up",
                  value: "a",
                  responseUrl: fake.responseUrl(),
                }),
              ).get("payload") ?? "{}",
            ),
            actions: [],
          }),
        }).toString(),
      ],
    ];
    for (const [what, body, contentType] of cases) {
      const r = await deliverSigned(url(), body, contentType ? { contentType } : {});
      expect({ what, status: r.status }).toEqual({ what, status: 400 });
      expect(r.text).not.toMatch(/Working/);
    }
    await h.drain();
    expect(await h.jobRows()).toEqual([]);
    expect(h.bot.handled).toEqual([]);
    expect(fake.posted()).toEqual([]);
    expect(fake.callsOf("response_url")).toEqual([]);
  });

  it("acknowledges events Atom does not use without a job, and drops unknown fields of a good one", async () => {
    const reaction = eventCallback({
      teamId: team.teamId,
      event: {
        type: "reaction_added",
        user: "U1",
        reaction: "tada",
        item: { type: "message", channel: "C1", ts: nextTs() },
      },
    });
    expect((await deliverEvent(h.url, reaction)).status).toBe(200);
    expect((await deliverEvent(h.url, { type: "app_rate_limited", team_id: team.teamId })).status).toBe(200);
    await h.drain();
    expect(await h.jobRows()).toEqual([]);

    // 50,000 levels of nesting in an unknown field are not stored and do not hurt: answered.
    const channel = "CDEEP001";
    const ev = appMention({ botUserId: team.botUserId, text: "deep?", channel, teamId: team.teamId });
    const depth = 50_000;
    const nested = `${'{"nested":'.repeat(depth)}true${"}".repeat(depth)}`;
    const raw = JSON.stringify(mention(ev)).replace(
      '"event":{"type":"app_mention"',
      `"event":{"blocks":[${nested}],"type":"app_mention"`,
    );
    expect(raw.length).toBeGreaterThan(10 * depth);
    const r = await deliverSigned(url(), raw, { contentType: "application/json" });
    expect(r.status).toBe(200);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
    const stored = await h.db.query<{ payload: unknown }>("SELECT payload FROM jobs WHERE job_key LIKE $1", [
      `msg:${channel}:%`,
    ]);
    const json = JSON.stringify(stored.rows[0]?.payload);
    expect(json).not.toContain("nested");
    // The legacy verification token of the envelope is not kept either.
    expect(json).not.toContain("legacy-verification-token");
  });

  it("answers a message whose escaped text is over 40,000 characters, cut, instead of refusing it", async () => {
    // Within Slack's 40,000-character limit as typed; longer once `&` is escaped as `&amp;`.
    const channel = "CLONG001";
    const typed = `<@${team.botUserId}> budget? ${"R&D ".repeat(9_990)}`;
    expect(typed.length).toBeLessThanOrEqual(40_000);
    const escaped = typed.replaceAll("&", "&amp;");
    expect(escaped.length).toBeGreaterThan(40_000);
    const ev = appMention({ botUserId: team.botUserId, text: "x", channel, teamId: team.teamId });
    const r = await deliverSigned(url(), JSON.stringify(mention({ ...ev, text: escaped })), {
      contentType: "application/json",
    });
    expect(r.status).toBe(200);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
    const handled = h.bot.handled.at(-1)!;
    expect(handled.channelId).toBe(channel);
    expect(handled.text).toMatch(/^budget\? R&(amp;)?D R&(amp;)?D/);
    expect(handled.text.length).toBeLessThanOrEqual(40_000);
    // The job row holds the cut text (at most Slack's 40,000 characters), not all of it.
    const stored = await h.db.query<{ payload: unknown }>("SELECT payload FROM jobs WHERE job_key LIKE $1", [
      `msg:${channel}:%`,
    ]);
    const json = JSON.stringify(stored.rows[0]?.payload);
    expect(json).toContain("budget? R&amp;D");
    expect(json.length).toBeLessThan(escaped.length);
  });

  it("answers 503 (Slack retries) when the delivery cannot be recorded, and takes the retry", async () => {
    const channel = "CNODB001";
    const payload = mention(
      appMention({ botUserId: team.botUserId, text: "later?", channel, teamId: team.teamId }),
    );
    await h.db.query("ALTER TABLE jobs RENAME TO jobs_away");
    let first: Awaited<ReturnType<typeof deliverEvent>>;
    try {
      first = await deliverEvent(h.url, payload);
    } finally {
      await h.db.query("ALTER TABLE jobs_away RENAME TO jobs");
    }
    expect(first.status).toBe(503);
    const retry = await deliverEvent(h.url, payload, { retryNum: 1 });
    expect(retry.status).toBe(200);
    await h.drain();
    expect(fake.posted(channel)).toHaveLength(1);
  });
});
