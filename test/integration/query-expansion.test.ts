import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBot } from "../../src/bot/core.ts";
import type { Bot } from "../../src/bot/types.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import type { TermExpander } from "../../src/memory/expand.ts";
import { ANYONE } from "../../src/memory/types.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { openTestMemory, type TestMemory, tempDir } from "../helpers/memory.ts";

const TENANT = "T-expansion";
let seq = 0;

function msg(text: string): ChatMessage {
  seq++;
  return {
    platform: "slack",
    tenantId: TENANT,
    channelId: "C-general",
    threadId: `th-${seq}`,
    messageId: `m-${seq}`,
    userId: "U-ana",
    text,
    files: [],
    isDirect: false,
    mentionsBot: true,
    visibility: "thread",
  };
}

/**
 * A fixed thesaurus with the related words a general resource offers (WordNet synonyms and the
 * like): some lead to the documents, some are frequent words that must not pass as evidence.
 */
const THESAURUS: Record<string, [string, number][]> = {
  workstation: [
    ["desk", 1],
    ["setup", 0.7],
  ],
  allowance: [
    ["budget", 0.9],
    ["spend", 0.6],
  ],
  bike: [
    ["bicycle", 1],
    ["cycle", 1],
    ["wheel", 0.8],
  ],
  leasing: [
    ["lease", 1],
    ["rent", 0.9],
    ["hire", 0.8],
  ],
  scheme: [
    ["plan", 1],
    ["program", 0.9],
    ["strategy", 0.8],
  ],
  work: [
    ["job", 1],
    ["lead", 0.7],
  ],
};
const expander: TermExpander = {
  name: "test-thesaurus",
  expand: (token) => (THESAURUS[token] ?? []).map(([t, similarity]) => ({ token: t, similarity })),
};

describe("query expansion through the bot", () => {
  let t: TestMemory;
  let folder: string;
  let bot: Bot;

  beforeAll(async () => {
    t = await openTestMemory();
    folder = tempDir("atom-expansion-");
    fs.writeFileSync(
      path.join(folder, "spending.md"),
      "# Spending company money\n\n## Desk set-up\n\nWe expect new teammates to spend up to $2,000 for desk setup. " +
        "The budget is yours to decide.",
    );
    fs.writeFileSync(
      path.join(folder, "travel.md"),
      "# Travel budget\n\nThe travel budget is $1,850 per trip. Budget questions go to finance; the budget is " +
        "reviewed every year.",
    );
    fs.writeFileSync(
      path.join(folder, "leadership.md"),
      "# Leadership\n\nWork leads plan the work of their team. Lead by example: a good work ethic is the " +
        "best plan. Leads review the work program every planning cycle and the strategy every year.",
    );
    fs.writeFileSync(
      path.join(folder, "meetings.md"),
      "# Company meeting\n\nThe company meeting happens every other Tuesday. Work updates are shared there.",
    );
    await t.memory.syncFolder(folder, { tenantId: TENANT, sourceId: "folder:expansion" });
    bot = createBot({ db: t.db, memory: t.memory, logger: createLogger("silent") });
  });
  afterAll(async () => {
    await t?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it("ranks a page by related words of a word memory has never seen", async () => {
    const opts = { tenantId: TENANT, principals: [ANYONE], limit: 5 };
    t.memory.expansion = undefined;
    const without = await t.memory.search("workstation budget", opts);
    expect(without.hits[0]!.doc.uri).toBe("travel.md");
    t.memory.expansion = { expander };
    try {
      const withExpansion = await t.memory.search("workstation budget", opts);
      expect(withExpansion.hits[0]!.doc.uri).toBe("spending.md");
      const reply = await bot.handle(msg("workstation budget"));
      expect(reply.found).toBe(true);
      expect(reply.text).toContain("$2,000 for desk setup");
    } finally {
      t.memory.expansion = undefined;
    }
  });

  it("still says not found for the bike-to-work scheme when frequent related words are in memory", async () => {
    t.memory.expansion = { expander };
    try {
      const reply = await bot.handle(msg("Is there a bike-to-work or e-bike leasing scheme?"));
      expect(reply).toMatchObject({ intent: "ask", found: false, citations: [] });
      expect(reply.text).toMatch(
        /couldn't find that in your connected sources\. I searched \d+ documents in: /,
      );
    } finally {
      t.memory.expansion = undefined;
    }
  });
});
