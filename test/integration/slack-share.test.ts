import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Citation } from "../../src/bot/reply.ts";
import { blockActionsBody, deliverSigned, slashCommandBody } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "./fakes/slack.ts";
import { PUBLIC_CITATION, type SlackHarness, startSlackHarness } from "./slack-harness.ts";

/** A note only Ana may read (saved in a DM: `user:` principals, DESIGN.md Permissions). */
const PRIVATE_CITATION: Citation = {
  n: 1,
  title: "Note from ana@example.com, 2026-05-01",
  uri: "note:private-1",
  heading: null,
  snippet: "my salary is 123,456",
  source: "notes",
  docId: "private-1",
};

/**
 * "Share in channel" of an ephemeral `/atom` answer: the answer may have used the asker's private
 * documents, so sharing re-runs the permission check with the channel's principals.
 */
describe("Slack: Share in channel re-checks what the channel may see", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let h: SlackHarness;
  let n = 0;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TSHARE" });
    fake.addUser({ id: "UASKER1", teamId: team.teamId, email: "ana@example.com" });
    fake.setChannel("CSHAREEXT", { isExtShared: true });
    h = await startSlackHarness(fake, { SLACK_BOT_TOKEN: team.botToken });
    await h.db.query(
      `INSERT INTO documents (tenant_id, source_id, doc_id, uri, title, mime, version, content_hash, acl)
       VALUES ('default', 'notes', 'private-1', 'note:private-1', 'Private note', 'text/plain', '1', '',
               '["user:ana@example.com", "user:slack:uasker1"]'::jsonb)`,
    );
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  /** Runs `/atom` in `channel` and returns the ephemeral answer and its share id (if offered). */
  const ask = async (channel: string, citations: Citation[]) => {
    h.bot.citations = citations;
    const responseUrl = fake.responseUrl();
    try {
      const r = await deliverSigned(
        `${h.url}/slack/events`,
        slashCommandBody({ teamId: team.teamId, text: `question ${++n}`, responseUrl, channelId: channel }),
      );
      expect(r.status).toBe(200);
      await h.drain();
    } finally {
      h.bot.citations = undefined;
    }
    const [answer] = fake.responses(responseUrl);
    const elements = (
      (answer?.blocks ?? []) as { elements?: { action_id?: string; value?: string }[] }[]
    ).flatMap((b) => b.elements ?? []);
    const shareId = elements.find((e) => e.action_id === "share_in_channel")?.value;
    return { responseUrl, answer, shareId };
  };
  const press = async (p: { channel: string; shareId: string; responseUrl: string; userId?: string }) => {
    const r = await deliverSigned(
      `${h.url}/slack/events`,
      blockActionsBody({
        teamId: team.teamId,
        actionId: "share_in_channel",
        value: p.shareId,
        responseUrl: p.responseUrl,
        channelId: p.channel,
        userId: p.userId,
      }),
    );
    expect(r.status).toBe(200);
    await h.drain();
    return fake.responses(p.responseUrl).at(-1);
  };

  it("refuses to share an answer citing a document only the asker may see, and says why", async () => {
    const channel = "CSHARE01";
    const { responseUrl, shareId } = await ask(channel, [PRIVATE_CITATION]);
    expect(shareId).toBeDefined();
    // The private answer was built from the asker's access (ephemeral → their principals).
    expect(h.bot.handled.at(-1)?.visibility).toBe("ephemeral");
    const notice = await press({ channel, shareId: shareId!, responseUrl });
    expect(String(notice?.text)).toMatch(/didn't share this answer.*not everyone in this channel may see/);
    expect(String(notice?.text)).toContain("Note from ana@example.com");
    expect(notice?.delete_original).toBeUndefined();
    expect(fake.posted(channel)).toEqual([]);
    const row = await h.db.query<{ shared_at: Date | null }>(
      "SELECT shared_at FROM reply_shares WHERE share_id = $1",
      [shareId],
    );
    expect(row.rows).toEqual([{ shared_at: null }]);
  });

  it("shares an answer citing only documents everyone may see, once, with who shared it", async () => {
    const channel = "CSHARE02";
    const { responseUrl, shareId } = await ask(channel, [PUBLIC_CITATION]);
    // Someone else cannot share the asker's answer.
    const other = await press({ channel, shareId: shareId!, responseUrl, userId: "UOTHER1" });
    expect(String(other?.text)).toMatch(/can no longer be shared/);
    expect(fake.posted(channel)).toEqual([]);

    const done = await press({ channel, shareId: shareId!, responseUrl });
    expect(done).toEqual({ delete_original: true });
    const posted = fake.posted(channel);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.threadTs).toBeUndefined();
    const blocks = JSON.stringify(posted[0]?.blocks);
    expect(blocks).toContain("spending-company-money.md");
    expect(blocks).toContain("Shared by <@UASKER1> with /atom");
    expect(blocks).not.toContain("share_in_channel");
    expect(blocks).not.toContain("feedback_up");

    const again = await press({ channel, shareId: shareId!, responseUrl });
    expect(String(again?.text)).toContain("already shared");
    expect(fake.posted(channel)).toHaveLength(1);
  });

  it("a citation whose document is gone (or unidentified) is not shared", async () => {
    const channel = "CSHARE03";
    const gone: Citation = { ...PUBLIC_CITATION, docId: "deleted.md" };
    const unknown: Citation = { ...PUBLIC_CITATION, n: 2, source: undefined, docId: undefined };
    const { responseUrl, shareId } = await ask(channel, [gone, unknown]);
    const notice = await press({ channel, shareId: shareId!, responseUrl });
    expect(String(notice?.text)).toMatch(/didn't share/);
    expect(fake.posted(channel)).toEqual([]);
  });

  it("offers no share button in a DM, and marks a Slack Connect channel as externally shared", async () => {
    const dm = await ask("DSHARE01", [PUBLIC_CITATION]);
    expect(dm.answer).toBeDefined();
    expect(dm.shareId).toBeUndefined();
    expect(h.bot.handled.at(-1)?.isDirect).toBe(true);

    await ask("CSHAREEXT", [PUBLIC_CITATION]);
    expect(h.bot.handled.at(-1)?.isExternallyShared).toBe(true);
    await ask("CSHARE04", [PUBLIC_CITATION]);
    // conversations.info does not know this channel: unknown, not "shared".
    expect(h.bot.handled.at(-1)?.isExternallyShared).toBeUndefined();
    const infos = fake.callsOf("conversations.info").filter((c) => c.params.channel === "CSHAREEXT");
    await ask("CSHAREEXT", [PUBLIC_CITATION]);
    // Cached: no second conversations.info for the same channel.
    expect(fake.callsOf("conversations.info").filter((c) => c.params.channel === "CSHAREEXT")).toHaveLength(
      infos.length,
    );
  });
});
