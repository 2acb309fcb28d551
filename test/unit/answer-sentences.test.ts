import { describe, expect, it } from "vitest";
import { extractiveAnswer } from "../../src/bot/answer.ts";
import {
  nearDuplicate,
  questionKinds,
  scoreSentences,
  splitSentences,
  splitSentencesInContext,
  statesKind,
} from "../../src/bot/sentences.ts";
import { analyzeQuery } from "../../src/memory/search.ts";
import type { SearchHit, SearchResult } from "../../src/memory/types.ts";
import { Vocabulary } from "../../src/memory/vocabulary.ts";

/** A document found by search: its passages (first = best), in the order given. */
function hit(uri: string, passages: { headings?: string[]; text: string }[], score = 1): SearchHit {
  const ps = passages.map((p, i) => ({
    chunkIndex: i,
    headings: p.headings ?? [],
    text: p.text,
    snippet: p.text.slice(0, 300),
    score: 1,
  }));
  return {
    doc: {
      tenantId: "t",
      source: "folder:docs",
      docId: uri,
      title: uri.replace(/\.md$/, ""),
      uri,
      mime: "text/markdown",
      modifiedAt: 0,
      acl: ["anyone"],
    },
    score,
    confidence: 1,
    evidence: 2,
    best: ps[0]!,
    passages: ps,
  };
}

/** Term statistics over the given texts plus filler chunks, so common words get a low IDF. */
function vocabulary(texts: string[]): Vocabulary {
  const v = new Vocabulary();
  for (const t of texts) v.update(t);
  for (let i = 0; i < 60; i++) v.update(`work team working process page ${i} notes about work`);
  return v;
}

function result(question: string, hits: SearchHit[]): SearchResult {
  const vocab = vocabulary(hits.flatMap((h) => h.passages.map((p) => `${h.doc.title} ${p.text}`)));
  return { hits, query: analyzeQuery(question, vocab), mode: "fts", tookMs: 0 };
}

const POLICY = hit("perks.md", [
  {
    headings: ["Perks", "Home office"],
    text:
      "We give every teammate a home office budget so they can work well. " +
      "The home office budget is up to $2,000 for a desk, a chair and a monitor. " +
      "Ask your manager before you order furniture.\n" +
      "- Receipts are due within 30 days of the purchase.",
  },
  {
    headings: ["Perks", "Questions"],
    text:
      "Questions about the home office budget go to #ask-people-team or people-ops@example.com. " +
      "The People Ops Manager approves requests above the budget. Budgets renew every February 1st. " +
      "There are 3 approved furniture vendors.",
  },
]);

describe("question kinds", () => {
  it("reads the kind of fact a question asks for", () => {
    expect([...questionKinds("how much is the home office budget?")]).toContain("amount");
    expect([...questionKinds("how many vendors are there")]).toContain("number");
    expect([...questionKinds("how long do I have to send receipts")]).toContain("duration");
    expect([...questionKinds("when does the budget renew")]).toContain("date");
    expect([...questionKinds("who approves a bigger budget")]).toContain("person");
    expect([...questionKinds("which slack channel for budget questions")]).toContain("channel");
    expect([...questionKinds("what e-mail do I write to")]).toContain("email");
    expect([...questionKinds("what is our mission")].length).toBe(0);
    // "when" as a conjunction is not a question for a date; "what amount" asks for an amount.
    const receipts = questionKinds("receipts needed for what amount when expensing?");
    expect([...receipts]).toEqual(["amount"]);
    expect([...questionKinds("when I leave, how many days do I have to ship my laptop back")]).toContain(
      "duration",
    );
    expect([...questionKinds("when I leave, how many days do I have to ship my laptop back")]).not.toContain(
      "date",
    );
    expect([...questionKinds("when will my insurance card arrive")]).toEqual([
      "date",
      "duration",
      "frequency",
    ]);
    expect([...questionKinds("how can I get salesforce access")]).toEqual(["contact"]);
  });

  it("finds where to ask: a channel, a handle or an address", () => {
    expect(statesKind("To request access, tag @sales-operations in #it-tech-ops.", "contact")).toBe(true);
    expect(statesKind("write to people-ops@example.com", "contact")).toBe(true);
    expect(statesKind("To access Salesforce you log in with Okta.", "contact")).toBe(false);
  });

  it("finds amounts, durations, dates, people, channels and addresses in sentences", () => {
    expect(statesKind("up to $2,000 for a desk", "amount")).toBe(true);
    expect(statesKind("a desk and a chair", "amount")).toBe(false);
    expect(statesKind("within 30 days of the purchase", "duration")).toBe(true);
    expect(statesKind("vesting over four years", "duration")).toBe(true);
    expect(statesKind("renew every February 1st", "date")).toBe(true);
    expect(statesKind("The People Ops Manager approves", "person")).toBe(true);
    expect(statesKind("post in #ask-people-team", "channel")).toBe(true);
    expect(statesKind("see section #3 below", "channel")).toBe(false);
    expect(statesKind("write to people-ops@example.com", "email")).toBe(true);
    expect(statesKind("write to the people team", "email")).toBe(false);
  });

  it("splits passages into sentences and list items, keeping the document's words", () => {
    expect(splitSentences("First one. Second one costs $5.\n- Item: $50\n1. Step two")).toEqual([
      "First one.",
      "Second one costs $5.",
      "Item: $50",
      "Step two",
    ]);
  });
});

describe("answer sentence selection", () => {
  const lead = (question: string) =>
    scoreSentences(question, [POLICY], result(question, [POLICY]).query!)[0]!.text;

  it("leads with the sentence holding the amount for how much", () => {
    expect(lead("how much is the home office budget?")).toContain("$2,000");
  });
  it("leads with the duration for how long", () => {
    expect(lead("how long do I have to hand in receipts for the home office budget")).toContain("30 days");
  });
  it("leads with the date for when", () => {
    expect(lead("when does the home office budget renew?")).toContain("February 1st");
  });
  it("leads with the role for who", () => {
    expect(lead("who approves requests above the home office budget?")).toContain("Manager approves");
  });
  it("leads with the channel for which channel", () => {
    expect(lead("which channel for questions about the home office budget")).toContain("#ask-people-team");
  });
  it("leads with the count for how many", () => {
    expect(lead("how many furniture vendors are approved")).toContain("3 approved");
  });

  it("puts the answering sentence first in the reply, quoted exactly, with its citation", () => {
    const q = "how much is the home office budget?";
    const other = hit("remote.md", [{ text: "Remote work: the home office is where most of us work." }], 0.9);
    const answer = extractiveAnswer(result(q, [other, POLICY]), 0.5, q);
    expect(answer.found).toBe(true);
    const firstQuote = answer.blocks.find((b) => b.type === "quote");
    // Sources keep the search order: the lead sentence cites the page it comes from, [2] here.
    expect(firstQuote).toMatchObject({
      text: "The home office budget is up to $2,000 for a desk, a chair and a monitor.",
      citation: 2,
    });
    expect(answer.citations.map((c) => c.uri)).toEqual(["remote.md", "perks.md"]);
    expect(answer.citations[1]!.snippet).toContain("$2,000");
    expect(answer.text.indexOf("$2,000")).toBeLessThan(answer.text.indexOf("Sources:"));
  });
});

describe("sources", () => {
  it("lists only documents the answer quotes or names, numbered in search order", () => {
    const q = "how much is the home office budget?";
    const parking = hit("parking.md", [{ text: "Parking spots are assigned by lottery each spring." }], 0.6);
    const answer = extractiveAnswer(result(q, [POLICY, parking]), 0.5, q);
    expect(answer.found).toBe(true);
    expect(answer.citations.map((c) => c.uri)).toEqual(["perks.md"]);
    expect(answer.text).not.toContain("parking");
    // Every source number appears in a quote or an "also in" line, and every quote's number is a source.
    const body = answer.text.slice(0, answer.text.indexOf("Sources:"));
    for (const c of answer.citations) expect(body).toContain(`[${c.n}]`);
    for (const b of answer.blocks)
      if (b.type === "quote") expect(answer.citations.map((c) => c.n)).toContain(b.citation);
  });
});

describe("whole documents", () => {
  it("leads with a sentence of the page that search did not return among its passages", () => {
    const q = "how much can I spend on my desk setup?";
    const page = hit("money.md", [
      { headings: ["Money", "Desk setup"], text: "Ask before you buy a desk setup; purchases are tracked." },
    ]);
    page.document = [
      page.passages[0]!,
      { chunkIndex: 1, headings: ["Money", "Other"], text: "Meals on trips are covered." },
      {
        chunkIndex: 2,
        headings: ["Money", "Desk setup", "Full-time teammates"],
        text: "We expect new teammates to spend up to $2,000 for desk setup.",
      },
    ];
    const r = result(q, [page]);
    const answer = extractiveAnswer(r, 0.5, q);
    expect(answer.found).toBe(true);
    expect(answer.blocks.find((b) => b.type === "quote")).toMatchObject({
      text: "We expect new teammates to spend up to $2,000 for desk setup.",
      citation: 1,
    });
    expect(answer.citations[0]!.heading).toBe("Money > Desk setup > Full-time teammates");
  });
});

describe("duplicate passages", () => {
  const text =
    "Q: Can I get more than $250 a year for mental health? A: The maximum annual amount is $250 per teammate.";
  it("recognises the same text with other punctuation or a few changed words", () => {
    expect(nearDuplicate(text, `${text} `)).toBe(true);
    expect(nearDuplicate(text.replace("Q:", "Question:"), text)).toBe(true);
    expect(nearDuplicate(text, "The internet stipend is $50 a month, paid with your salary.")).toBe(false);
  });

  it("quotes a passage found in three pages once, with the other pages as also in", () => {
    const q = "mental health stipend amount";
    const hits = [
      hit("a/mental-health.md", [{ text }], 1),
      hit("b/mental-health.md", [{ text }], 0.99),
      hit("c/modern-health.md", [{ text: `${text}\nSee Modern Health.` }], 0.98),
    ];
    const answer = extractiveAnswer(result(q, hits), 0.5, q);
    expect(answer.found).toBe(true);
    const quotes = answer.blocks.filter((b) => b.type === "quote");
    const withText = quotes.filter((b) => b.type === "quote" && b.text.includes("maximum annual amount"));
    expect(withText).toHaveLength(1);
    expect(answer.text.match(/maximum annual amount/g)).toHaveLength(1);
    expect(answer.text).toMatch(/also in \[2\] b\/mental-health, \[3\] c\/modern-health/);
    expect(answer.citations.map((c) => c.uri)).toEqual([
      "a/mental-health.md",
      "b/mental-health.md",
      "c/modern-health.md",
    ]);
  });
});

describe("honest not found", () => {
  const WORK = hit("tech-lead.md", [
    {
      text:
        "Lead by example: set a high standard for quality and work ethic. " +
        "Work leads are responsible for working with the team on the scheme of work.",
    },
  ]);

  it("does not answer when only frequent words of the question match", () => {
    const q = "Is there a bike-to-work or e-bike leasing scheme?";
    // The document passes the document-level rule (most of the question's weight by count of
    // words): the answer sentence's missing rare concepts decide.
    const r = result(q, [{ ...WORK, confidence: 0.6, evidence: 1 }]);
    expect(extractiveAnswer(r, 0.5, q).found).toBe(false);
  });

  it("answers a long question whose rare incidental words the page lacks, but not a short one", () => {
    const page = hit("moving.md", [
      {
        headings: ["Moving abroad"],
        text: "Tell the people team about relocating to another country at least 30 days ahead.",
      },
    ]);
    const long =
      "I'm relocating from Canada to Portugal soon. How many days ahead should I tell the people team?";
    const rl = result(long, [{ ...page, confidence: 0.6, evidence: 1.3 }]);
    expect(rl.query!.concepts.length).toBeGreaterThan(6);
    expect(extractiveAnswer(rl, 0.5, long).text).toContain("30 days ahead");
    const short = "relocating to Portugal";
    const rs = result(short, [{ ...page, confidence: 0.6, evidence: 1.3 }]);
    expect(extractiveAnswer(rs, 0.5, short).found).toBe(false);
  });

  it("does not answer a question made of stop words only", () => {
    const q = "what is it and where is that?";
    const r = result(q, [WORK]);
    expect(r.query!.concepts).toHaveLength(0);
    expect(extractiveAnswer({ ...r, hits: [] }, 0.5, q).found).toBe(false);
  });

  it("does not take a frequent look-alike for a rare word", () => {
    const vocab = vocabulary(["leading teams leading work leading", "one leasing contract"]);
    const a = analyzeQuery("leasing", vocab);
    const leasing = a.concepts[0]!;
    const leading = leasing.variants.find((v) => v.token === "leading");
    if (leading) expect(leading.weight).toBeLessThan(leasing.weight);
    const b = analyzeQuery("bike", vocabulary(["bake sale"]));
    expect(b.concepts[0]!.variants.map((v) => v.token)).toEqual(["bike"]);
  });
});

describe("question kinds and list items (second pass)", () => {
  it("reads the kind after a question word and up to two words naming the subject", () => {
    expect([...questionKinds("what kubernetes version does a customer need")]).toEqual(["number"]);
    expect([...questionKinds("which engineering slack channel do I post in")]).toContain("channel");
    expect([...questionKinds("what support e-mail do customers write to")]).toContain("email");
    expect([...questionKinds("what reimbursement amount for a desk")]).toEqual(["amount"]);
    // Not across a clause: "what" three or more words before the noun is another question.
    expect([...questionKinds("what do the docs say about the version")]).toEqual([]);
  });

  it("tells how often (a frequency) from how long (a duration)", () => {
    expect([...questionKinds("how often are invites sent out")]).toEqual(["frequency"]);
    expect([...questionKinds("how long until an expense gets paid out")]).toEqual(["duration"]);
    expect(statesKind("included in your monthly pay", "duration")).toBe(false);
    expect(statesKind("included in your monthly pay", "frequency")).toBe(true);
    expect(statesKind("invites are sent once a quarter", "frequency")).toBe(true);
    expect(statesKind("Expect a 7-10 day turn around", "duration")).toBe(true);
    expect(statesKind("Expect a 7-10 day turn around", "frequency")).toBe(false);
  });

  it("takes a quantity stated in the question as a hint of the kind of answer", () => {
    expect([...questionKinds("I forgot an expense from 4 months ago, can I still submit it?")]).toContain(
      "duration",
    );
    expect([...questionKinds("is a $600 chair ok?")]).toContain("amount");
    expect([...questionKinds("can I still submit an old expense?")]).toEqual([]);
  });

  it("keeps the list item a nested item sits under", () => {
    const text =
      "Intro sentence. Another one.\n- Fringe benefit amount (per month):\n  - Internet: $50\n  - Phone: $75\n- Top item\nPlain line";
    expect(splitSentencesInContext(text)).toEqual([
      { text: "Intro sentence.", parent: "" },
      { text: "Another one.", parent: "" },
      { text: "Fringe benefit amount (per month):", parent: "" },
      { text: "Internet: $50", parent: "Fringe benefit amount (per month):" },
      { text: "Phone: $75", parent: "Fringe benefit amount (per month):" },
      { text: "Top item", parent: "" },
      { text: "Plain line", parent: "" },
    ]);
  });

  it("prefers a nested item whose parent names the question's concept", () => {
    const doc = hit("expenses.md", [
      {
        text:
          "Reimbursement requests over $25 need itemized receipts.\n" +
          "- Fringe benefit amounts (per month):\n  - Internet: $50\n  - Phone: $75",
      },
    ]);
    const q = "monthly internet reimbursement?";
    const ranked = scoreSentences(q, [doc], result(q, [doc]).query!);
    expect(ranked[0]!.text).toBe("Internet: $50");
  });

  it("leads with the version for what <subject> version", () => {
    const doc = hit("prerequisites.md", [
      {
        text:
          "Customers deploying with Kubernetes need implementation services first.\n" +
          "- Kubernetes cluster provisioned (at least v1.19 or later)",
      },
    ]);
    const q = "what kubernetes version does a customer need";
    const ranked = scoreSentences(q, [doc], result(q, [doc]).query!);
    expect(ranked[0]!.text).toContain("v1.19");
  });
});
