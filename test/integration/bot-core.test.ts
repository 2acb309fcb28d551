import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage } from "../../src/core/ports.ts";
import { createBot } from "../../src/bot/core.ts";
import type { Bot } from "../../src/bot/types.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { openTestMemory, type TestMemory, tempDir } from "../helpers/memory.ts";

const TENANT = "T-bot";
let seq = 0;

/** A Slack message in a public channel (or a DM with `isDirect`), in its own thread unless given. */
function msg(text: string, over: Partial<ChatMessage> = {}): ChatMessage {
  seq++;
  return {
    platform: "slack",
    tenantId: TENANT,
    channelId: "C-general",
    threadId: `th-${seq}`,
    messageId: `m-${seq}`,
    userId: "U-ana",
    userEmail: "ana@x.com",
    text,
    files: [],
    isDirect: false,
    mentionsBot: true,
    visibility: "thread",
    ...over,
  };
}
const dm = (text: string, user: "ana" | "bob", over: Partial<ChatMessage> = {}) =>
  msg(text, {
    isDirect: true,
    channelId: `D-${user}`,
    userId: `U-${user}`,
    userEmail: `${user}@x.com`,
    ...over,
  });

describe("bot core", () => {
  let t: TestMemory;
  let folder: string;
  let bot: Bot;

  beforeAll(async () => {
    t = await openTestMemory();
    folder = tempDir("atom-bot-");
    fs.mkdirSync(path.join(folder, "perks"));
    fs.writeFileSync(
      path.join(folder, "perks", "spending.md"),
      "# Spending company money\n\n## Home office\n\nEvery employee gets a home office budget of 1,500 USD " +
        "for a desk, a chair and a monitor. Submit receipts within 30 days.\n\n## Meals\n\n" +
        "Team meals are covered up to 40 USD per person.",
    );
    fs.writeFileSync(
      path.join(folder, "travel.md"),
      "# Travel\n\n## Trains\n\nBook trains for trips under four hours. Flights need approval from your manager.",
    );
    fs.writeFileSync(path.join(folder, "leave.md"), "# Leave\n\nAnnual leave is 25 days per calendar year.");
    await t.memory.syncFolder(folder, { tenantId: TENANT, sourceId: "folder:handbook" });
    bot = createBot({ db: t.db, memory: t.memory, logger: createLogger("silent") });
  });
  afterAll(async () => {
    await t?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it("answers a question with quoted passages and numbered citations", async () => {
    const reply = await bot.handle(msg("how much is the home office budget?"));
    expect(reply).toMatchObject({ intent: "ask", found: true, visibility: "thread" });
    expect(reply.citations[0]).toMatchObject({
      n: 1,
      title: "Spending company money",
      uri: "perks/spending.md",
      source: "folder:handbook",
    });
    expect(reply.citations[0]!.heading).toMatch(/Home office/);
    expect(reply.citations[0]!.snippet).toContain("1,500 USD");
    expect(reply.text).toContain("[1]");
    expect(reply.text).toContain("perks/spending.md");
    expect(reply.blocks.some((b) => b.type === "quote" && b.citation === 1)).toBe(true);
    expect(reply.answerId).toBeTruthy();
    expect(reply.actions.map((a) => a.id)).toEqual(["feedback_up", "feedback_down"]);
  });

  it("says plainly when memory has no answer and names what it searched", async () => {
    const reply = await bot.handle(msg("what is the boiling point of liquid nitrogen?"));
    expect(reply).toMatchObject({ intent: "ask", found: false, citations: [] });
    expect(reply.text).toMatch(/couldn't find/);
    expect(reply.text).toContain("3 documents");
    expect(reply.text).toContain(folder);
    expect(reply.answerId).toBeUndefined();
  });

  it("says no documents are connected for a tenant without any", async () => {
    const reply = await bot.handle(msg("how much is the home office budget?", { tenantId: "empty-tenant" }));
    expect(reply.found).toBe(false);
    expect(reply.text).toMatch(/couldn't find.*no documents are connected/);
  });

  it("uses the thread's earlier question for a follow-up", async () => {
    const first = msg("how much is the home office budget?");
    expect((await bot.handle(first)).found).toBe(true);
    const followUp = await bot.handle(msg("and for interns?", { threadId: first.threadId }));
    expect(followUp.found).toBe(true);
    expect(followUp.citations[0]!.uri).toBe("perks/spending.md");
    // The same words in a new thread have nothing to go on.
    expect((await bot.handle(msg("and for interns?"))).found).toBe(false);
    expect(
      await bot.isInThread({
        tenantId: TENANT,
        platform: "slack",
        channelId: "C-general",
        threadId: first.threadId,
      }),
    ).toBe(true);
    expect(
      await bot.isInThread({ tenantId: TENANT, platform: "slack", channelId: "C-general", threadId: "nope" }),
    ).toBe(false);
  });

  it("records feedback once per user and answer", async () => {
    const reply = await bot.handle(msg("how many days of annual leave do I get?"));
    expect(reply.found).toBe(true);
    const answerId = reply.answerId!;
    const fb = (userId: string, rating: "up" | "down", over = {}) =>
      bot.recordFeedback({ tenantId: TENANT, platform: "slack", answerId, userId, rating, ...over });
    expect(await fb("U-ana", "up")).toBe(true);
    expect(await fb("U-ana", "down")).toBe(false);
    expect(await fb("U-bob", "down")).toBe(true);
    expect(await fb("U-carl", "up", { answerId: "no-such-answer" })).toBe(false);
    expect(await fb("U-carl", "up", { tenantId: "another-tenant" })).toBe(false);
    const rows = await t.db.query<{ user_id: string; rating: string; question: string }>(
      "SELECT user_id, rating, question FROM feedback WHERE answer_id = $1 ORDER BY user_id",
      [answerId],
    );
    expect(rows.rows).toEqual([
      { user_id: "U-ana", rating: "up", question: "how many days of annual leave do I get?" },
      { user_id: "U-bob", rating: "down", question: "how many days of annual leave do I get?" },
    ]);
  });

  it("remembers a note and cites it later", async () => {
    const saved = await bot.handle(msg("remember that the Q3 offsite is in Lisbon"));
    expect(saved.intent).toBe("remember");
    expect(saved.text).toMatch(/remember/);
    const reply = await bot.handle(
      msg("where is the Q3 offsite?", { userId: "U-bob", userEmail: "bob@x.com" }),
    );
    expect(reply.found).toBe(true);
    expect(reply.citations[0]!.uri).toMatch(/^note:/);
    expect(reply.citations[0]!.snippet).toContain("Lisbon");
  });

  it("keeps a note made in a DM to its author", async () => {
    const saved = await bot.handle(dm("remember that my parking spot is P-17 on level minus two", "ana"));
    expect(saved.text).toMatch(/only you/);
    const own = await bot.handle(dm("where is my parking spot?", "ana"));
    expect(own.found).toBe(true);
    expect(own.citations[0]!.snippet).toContain("P-17");
    const other = await bot.handle(dm("where is my parking spot?", "bob"));
    expect(other.citations.some((c) => c.snippet.includes("P-17"))).toBe(false);
    const inChannel = await bot.handle(msg("where is the parking spot?"));
    expect(inChannel.citations.some((c) => c.snippet.includes("P-17"))).toBe(false);
  });

  it("answers small talk with what Atom does, never with documents", async () => {
    for (const text of [
      "cool!!",
      "test",
      "testing",
      "DM me",
      "Who are you?",
      "hello from team 2",
      "Hello World",
    ]) {
      const reply = await bot.handle(msg(text));
      expect(reply.intent, text).toBe("smalltalk");
      expect(reply.citations, text).toEqual([]);
      expect(reply.text, text).not.toMatch(/found in your documents|Sources:/);
      expect(reply.text, text).toMatch(/Ask me a question/);
      expect(reply.answerId, text).toBeUndefined();
    }
  });

  it("says not found when only frequent words of the question are in the documents", async () => {
    const reply = await bot.handle(msg("Is there a bike-to-work or e-bike leasing scheme?"));
    expect(reply).toMatchObject({ intent: "ask", found: false, citations: [] });
    expect(reply.text).toMatch(
      /couldn't find that in your connected sources\. I searched \d+ documents in: /,
    );
  });

  it("says the filtered sources are empty, not that nothing is connected, when `in:drive` names no documents", async () => {
    const reply = await bot.handle(msg("how much is the home office budget? in:drive"));
    expect(reply).toMatchObject({ intent: "ask", found: false, citations: [] });
    expect(reply.text).not.toMatch(/no documents are connected yet/);
    expect(reply.text).toMatch(
      /^I couldn't find that: the sources you picked have no documents yet \(all your sources together: \d+ documents in /,
    );
  });

  it("refuses a long note without claiming a length it never saw (messages are cut at 8,000 characters)", async () => {
    const reply = await bot.handle(msg(`remember that ${"z".repeat(39_000)}`));
    expect(reply.text).toBe("That note is too long: the limit is 4000 characters. Shorten it and try again.");
  });

  it("handles help, status and search", async () => {
    const help = await bot.handle(msg("help"));
    expect(help.intent).toBe("help");
    expect(help.text).toMatch(/find docs about/);
    const status = await bot.handle(msg("status"));
    expect(status.intent).toBe("status");
    expect(status.text).toContain(`${folder} (folder): 3 documents`);
    expect(status.text).toMatch(/Notes \(notes\)/);
    const search = await bot.handle(msg("find docs about trains"));
    expect(search.intent).toBe("search");
    expect(search.citations.map((c) => c.uri)).toContain("travel.md");
    expect(search.text).toContain("travel.md");
    const none = await bot.handle(msg("find docs about quantum chromodynamics"));
    expect(none).toMatchObject({ intent: "search", found: false });
  });

  it("never throws on odd input", async () => {
    expect((await bot.handle(msg(""))).intent).toBe("help");
    const long = await bot.handle(msg(`budget ${"x".repeat(50_000)}`));
    expect(long.intent).toBe("ask");
    // No content word at all: never answered from documents.
    const weird = await bot.handle(msg("' OR 1=1 -- \u0000 \\ 😀"));
    expect(weird.intent).toBe("smalltalk");
    expect(weird.citations).toEqual([]);
    const sql = await bot.handle(msg("' OR budget=1 -- \u0000 \\ 😀"));
    expect(sql.intent).toBe("ask");
  });
  it("answers only from the sources it is told to use", async () => {
    const other = tempDir("atom-bot-other-");
    try {
      fs.writeFileSync(
        path.join(other, "garden.md"),
        "# Garden\n\nThe office garden has tomato plants and basil.",
      );
      await t.memory.syncFolder(other, { tenantId: TENANT, sourceId: "folder:garden" });
      const everywhere = await bot.handle(msg("which plants grow in the office garden?"));
      expect(everywhere.found).toBe(true);
      expect(everywhere.citations[0]!.source).toBe("folder:garden");
      const onlyHandbook = await bot.handle(msg("which plants grow in the office garden?"), {
        sources: ["folder:handbook"],
      });
      expect(onlyHandbook.found).toBe(false);
      expect(onlyHandbook.text).not.toContain(other);
      const stillAnswers = await bot.handle(msg("how much is the home office budget?"), {
        sources: ["folder:handbook"],
      });
      expect(stillAnswers.citations.map((c) => c.source)).toEqual(
        stillAnswers.citations.map(() => "folder:handbook"),
      );
    } finally {
      await t.memory.syncFolder(tempDir("atom-bot-empty-"), { tenantId: TENANT, sourceId: "folder:garden" });
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it("answers a file sent without text with what Atom reads, not the help card", async () => {
    const doc = { id: "f1", name: "Plan.docx", filetype: "docx", isVoiceNote: false };
    const reply = await bot.handle(dm("", "ana", { files: [doc] }));
    expect(reply.intent).toBe("files");
    expect(reply.text).toContain("except voice notes");
    expect(reply.text).toMatch(/connected sources/);
    expect(reply.text).not.toContain("Here is what I can do");
    // With a question, the file does not change what Atom does.
    const asked = await bot.handle(dm("how much is the home office budget?", "ana", { files: [doc] }));
    expect(asked.intent).toBe("ask");
    // A voice note is never answered with "I don't read files".
    const voice = await bot.handle(dm("", "ana", { files: [{ ...doc, name: "a.m4a", isVoiceNote: true }] }));
    expect(voice.intent).not.toBe("files");
  });
});
