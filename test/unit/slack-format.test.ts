import { describe, expect, it } from "vitest";
import {
  escapeMrkdwn,
  MAX_BLOCKS,
  renderReply,
  SECTION_TEXT_LIMIT,
  slackToPlain,
  splitMrkdwn,
} from "../../src/adapters/slack/format.ts";
import { parseSlackBody, verifySlackSignature } from "../../src/adapters/slack/routes.ts";
import { makeReply } from "../../src/bot/reply.ts";
import { signSlackBody } from "../helpers/slack.ts";

describe("escapeMrkdwn", () => {
  it("escapes &, < and > so text can never form links, mentions or broadcasts", () => {
    const out = escapeMrkdwn("a & b <!channel> <!here> <@U123> <https://evil|click> x > y");
    expect(out).toBe(
      "a &amp; b &lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;https://evil|click&gt; x &gt; y",
    );
    expect(out).not.toMatch(/<[!@#h]/);
  });

  it("neutralises bare @channel, @here and @everyone and breaks code fences", () => {
    const out = escapeMrkdwn("hey @channel and @Here, @everyone ```rm -rf```");
    expect(out).not.toMatch(/@(channel|here|everyone)\b/i);
    expect(out).toContain("@\u200Bchannel");
    expect(out).not.toContain("```");
  });
});

describe("slackToPlain", () => {
  it("removes the bot mention and renders Slack markup as plain text", () => {
    const t = slackToPlain(
      "<@UBOT> what about <@U1|ana> in <#C1|general>, <https://x.test/a?b=1&amp;c=2|the doc> &lt;b&gt; <!here> <mailto:a@b.c|a@b.c>",
      "UBOT",
    );
    expect(t).toBe("what about @ana in #general, the doc <b> @here a@b.c");
  });
});

describe("splitMrkdwn", () => {
  it("keeps every piece within the limit, never cutting an entity or a surrogate pair", () => {
    const text = escapeMrkdwn(`${"word & more < less ".repeat(600)}😀`.repeat(2));
    const parts = splitMrkdwn(text, SECTION_TEXT_LIMIT);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
      expect(p).not.toMatch(/&[a-z]*$/);
      expect(p).not.toMatch(/^[a-z]*;/);
      expect(/[\uD800-\uDBFF]$/.test(p)).toBe(false);
    }
    expect(parts.join(" ").replace(/\s+/g, " ")).toBe(text.replace(/\s+/g, " ").trim());
  });
});

describe("renderReply", () => {
  it("renders answer sections, numbered sources with links and feedback buttons", () => {
    const reply = makeReply({
      intent: "ask",
      text: "The budget is $500 <!channel>.",
      blocks: [
        { type: "text", text: "The budget is $500 <!channel>." },
        { type: "quote", text: "Each employee gets $500", citation: 1 },
        { type: "list", items: ["one", "two"] },
      ],
      citations: [
        {
          n: 1,
          title: "Spending | money",
          uri: "https://handbook.test/spend?a=1&b=2",
          heading: "Home",
          snippet: "s",
        },
        { n: 2, title: "Local", uri: "spending-company-money.md", heading: null, snippet: "s" },
      ],
      actions: [
        { id: "feedback_up", label: "Helpful", value: "a1" },
        { id: "feedback_down", label: "Not helpful", value: "a1" },
      ],
    });
    const [m, ...rest] = renderReply(reply, { shareId: "sh1" });
    expect(rest).toHaveLength(0);
    const json = JSON.stringify(m);
    expect(json).not.toContain("<!channel>");
    expect(m?.text).toContain("&lt;!channel&gt;");
    expect(json).toContain("<https://handbook.test/spend?a=1&amp;b=2|Spending ¦ money>");
    expect(json).toContain("2. Local (spending-company-money.md)");
    expect(json).toContain("> Each employee gets $500 [1]");
    const actions = m?.blocks.find((b) => b.type === "actions") as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      ["feedback_up", "a1"],
      ["feedback_down", "a1"],
      ["share_in_channel", "sh1"],
    ]);
  });

  it("splits long answers within 3,000 characters per section and 50 blocks per message", () => {
    const paragraphs = Array.from({ length: 80 }, (_, i) => ({
      type: "text" as const,
      text: `Paragraph ${i} ${"x".repeat(2500)}`,
    }));
    const long = makeReply({
      intent: "ask",
      text: "long",
      blocks: [...paragraphs, { type: "text", text: "y ".repeat(5000) }],
    });
    const messages = renderReply(long);
    expect(messages.length).toBe(2);
    for (const m of messages) {
      expect(m.blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
      for (const b of m.blocks) {
        if (b.type === "section") expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
      }
    }
    const all = messages.flatMap((m) => m.blocks).map((b) => (b.type === "section" ? b.text?.text : ""));
    expect(all.join("")).toContain("Paragraph 79");
  });
});

describe("verifySlackSignature", () => {
  const secret = "s3cr3t";
  const now = 1_717_000_000;
  it("accepts the exact raw bytes and refuses stale, missing or forged signatures", () => {
    const raw = Buffer.from('{"text":"caf\\u00e9 and\\/or"}');
    const h = signSlackBody(secret, raw, now);
    const headers = { signature: h["x-slack-signature"], timestamp: h["x-slack-request-timestamp"] };
    expect(verifySlackSignature(secret, raw, headers, now + 299)).toBeNull();
    expect(verifySlackSignature(secret, raw, headers, now + 360)).toBe("stale_timestamp");
    expect(verifySlackSignature(secret, Buffer.from('{"text":"café and/or"}'), headers, now)).toBe(
      "bad_signature",
    );
    expect(verifySlackSignature("other", raw, headers, now)).toBe("bad_signature");
    expect(verifySlackSignature(secret, raw, { signature: undefined, timestamp: "1" }, now)).toBe(
      "missing_headers",
    );
  });
});

describe("parseSlackBody", () => {
  it("parses JSON events, slash command forms and interactivity payloads by their content type", () => {
    expect(parseSlackBody('{"type":"event_callback"}', "application/json")).toEqual({
      kind: "events",
      payload: { type: "event_callback" },
    });
    expect(parseSlackBody("command=%2Fatom&text=help", "application/x-www-form-urlencoded")).toEqual({
      kind: "command",
      payload: { command: "/atom", text: "help" },
    });
    expect(
      parseSlackBody(
        `payload=${encodeURIComponent('{"type":"block_actions"}')}`,
        "application/x-www-form-urlencoded; charset=utf-8",
      ),
    ).toEqual({ kind: "interactive", payload: { type: "block_actions" } });
    expect(parseSlackBody("ssl_check=1&token=x", "application/x-www-form-urlencoded").kind).toBe("ssl_check");
    expect(() => parseSlackBody("not json", "application/json")).toThrow();
    expect(() => parseSlackBody("[1]", "application/json")).toThrow(/not a JSON object/);
  });

  it("refuses a body whose content type Slack never sends, even when it would parse", () => {
    expect(() => parseSlackBody('{"type":"event_callback"}', "text/plain")).toThrow(
      /unsupported content type text\/plain/,
    );
    expect(() => parseSlackBody('{"type":"event_callback"}', undefined)).toThrow(/unsupported content type/);
    expect(() => parseSlackBody("command=%2Fatom", "multipart/form-data; boundary=x")).toThrow(/unsupported/);
  });
});
