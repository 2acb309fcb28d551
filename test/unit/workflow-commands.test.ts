import { describe, expect, it } from "vitest";
import { looksLikeCreate } from "../../src/workflows/commands.ts";
import { extractiveSummarizer } from "../../src/workflows/summarize.ts";

describe("which messages ask for a workflow", () => {
  it.each([
    "every weekday at 9 post a digest of new documents here",
    "Remind me every Monday at 9 AM to review the sales dashboard.",
    "please remind me tomorrow at 8 to call the bank",
    "atom, in 20 minutes remind me to stretch",
    "use the daily digest template for #sales at 8",
    "post a digest of new documents every morning",
    "tell me when a new document mentions pricing",
    "evrey wekday at 9 post a digset of new documnets",
    "whenever someone joins post a welcome",
    // A date first, as in the README's "once" row.
    "on december 24 at 10 remind me to buy gifts",
    "on 2027-01-15 at 9 remind me to renew the domain",
    "on 3rd of march at 9 post a digest of new documents here",
    "On Feb 30 at 9 remind me to pay rent",
  ])("“%s” is a workflow request", (text) => {
    expect(looksLikeCreate(text)).toBe(true);
  });

  it.each([
    "what is the home office budget?",
    "every employee gets how many vacation days?",
    "share the travel policy",
    "send me the expense policy",
    "post-mortem process",
    "what happens at the 9am standup?",
    "find docs about parental leave",
    "workflows",
    "on december 24 the office is closed",
    "on 2027-01-15 what do we post?",
  ])("“%s” is not", (text) => {
    expect(looksLikeCreate(text)).toBe(false);
  });
});

describe("extractive summaries (no model)", () => {
  it("picks the sentences that share the most words, at most two per document, in their order", async () => {
    const out = await extractiveSummarizer.summarize(
      [
        {
          title: "Pricing 2027",
          text: "The new price list starts in January. Enterprise plans cost more than team plans. Our office dog is called Rex.",
        },
        { title: "Plans", text: "Team plans and enterprise plans get the new price list in January." },
      ],
      { kind: "documents", maxSentences: 3 },
    );
    const lines = out.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines).toContain("• The new price list starts in January.");
    expect(lines).toContain("• Team plans and enterprise plans get the new price list in January.");
    expect(out).not.toContain("Rex");
  });

  it("groups questions that read the same and counts them", async () => {
    const out = await extractiveSummarizer.summarize(
      [
        { title: "How much is the home office budget?" },
        { title: "how much is the home-office budget" },
        { title: "Who approves travel?" },
      ],
      { kind: "questions", maxSentences: 5 },
    );
    expect(out).toBe("• How much is the home office budget? (asked 2 times)\n• Who approves travel?");
  });
});
