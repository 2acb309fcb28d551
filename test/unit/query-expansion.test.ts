import { BooleanQuery } from "@lancedb/lancedb";
import { describe, expect, it } from "vitest";
import { DEFAULT_EXPANSION, expandTerm, type TermExpander } from "../../src/memory/expand.ts";
import { analyzeQuery, fullTextQuery } from "../../src/memory/search.ts";
import { Vocabulary } from "../../src/memory/vocabulary.ts";

/** A small fixed thesaurus: related words per word, each with its similarity. */
function thesaurus(entries: Record<string, [string, number][]>): TermExpander & { asked: string[] } {
  const asked: string[] = [];
  return {
    name: "test-thesaurus",
    asked,
    expand(token) {
      asked.push(token);
      return (entries[token] ?? []).map(([t, similarity]) => ({ token: t, similarity }));
    },
  };
}

function vocabOf(...chunks: string[]): Vocabulary {
  const v = new Vocabulary();
  for (const c of chunks) v.update(c);
  return v;
}

const VOCAB = vocabOf(
  "We expect new teammates to spend up to $2,000 for desk setup.",
  "The company meeting happens every other Tuesday.",
  "Submit receipts for the monthly stipend.",
  "Work leads write the plan.",
  "Our office is remote.",
  "Travel budget per trip.",
);

describe("query expansion", () => {
  it("adds related words memory holds, each weighing less than the word asked", () => {
    const expander = thesaurus({
      workstation: [
        ["desk", 1],
        ["bench", 0.9],
      ],
      allowance: [["stipend", 0.8]],
    });
    const q = analyzeQuery("workstation allowance", VOCAB, { expander });
    const [workstation, allowance] = q.concepts;
    const desk = workstation!.variants.find((v) => v.token === "desk");
    expect(desk).toMatchObject({ expansion: true });
    expect(desk!.weight).toBeLessThan(workstation!.weight);
    expect(desk!.weight).toBeCloseTo(
      DEFAULT_EXPANSION.weight * Math.min(workstation!.weight, VOCAB.idf("desk")),
    );
    // "bench" is not in memory: no use searching for it.
    expect(workstation!.variants.some((v) => v.token === "bench")).toBe(false);
    const stipend = allowance!.variants.find((v) => v.token === "stipend")!;
    expect(stipend.weight).toBeLessThan(allowance!.weight);
    expect(q.text).toBe("workstation allowance");
    expect(q.expansionText.split(" ").sort()).toEqual(["desk", "stipend"]);
  });

  it("never expands stop words, and drops stop words and the query's own words as expansions", () => {
    const expander = thesaurus({
      the: [["desk", 1]],
      how: [["desk", 1]],
      office: [
        ["the", 1],
        ["remote", 1],
        ["offices", 1],
        ["budget", 0.9],
      ],
      budget: [["office", 1]],
    });
    const q = analyzeQuery("how is the office budget", VOCAB, { expander });
    expect(expander.asked).not.toContain("the");
    expect(expander.asked).not.toContain("how");
    const office = q.concepts.find((c) => c.token === "office")!;
    // "the" is a stop word, "offices" has the word's own stem, "budget" is already asked.
    expect(office.variants.map((v) => v.token)).toEqual(["office", "remote"]);
    expect(q.concepts.find((c) => c.token === "budget")!.variants.map((v) => v.token)).toEqual(["budget"]);
  });

  it("keeps only similar enough expansions, the best few per word", () => {
    const expander = thesaurus({
      trip: [
        ["travel", 0.9],
        ["meeting", 0.45],
        ["plan", 0.6],
        ["receipts", 0.55],
      ],
    });
    const out = expandTerm("trip", 5, new Set(["trip"]), VOCAB, expander, {
      ...DEFAULT_EXPANSION,
      perTerm: 2,
      minSimilarity: 0.5,
    });
    expect(out.map((e) => e.token)).toEqual(["travel", "plan"]);
    expect(out[0]!.weight).toBeGreaterThan(out[1]!.weight);
  });

  it("expands only rare query words when maxQueryDf says so", () => {
    const expander = thesaurus({ budget: [["stipend", 1]], fortnightly: [["tuesday", 1]] });
    const options = { ...DEFAULT_EXPANSION, maxQueryDf: 0 };
    const q = analyzeQuery("fortnightly budget", VOCAB, { expander, options });
    expect(q.concepts[0]!.variants.map((v) => v.token)).toContain("tuesday");
    expect(q.concepts[1]!.variants.map((v) => v.token)).toEqual(["budget"]);
  });

  it("searches expansions in their own, down-weighted clause; without expansion the query is unchanged", () => {
    const plain = analyzeQuery("workstation allowance", VOCAB);
    expect(plain.expansionText).toBe("");
    expect(fullTextQuery(plain)).toBe("workstation allowance");
    const expanded = analyzeQuery("workstation allowance", VOCAB, {
      expander: thesaurus({ workstation: [["desk", 1]] }),
    });
    expect(fullTextQuery(expanded)).toBeInstanceOf(BooleanQuery);
  });

  it("gives nothing to expand for a message of stop words only", () => {
    const expander = thesaurus({ what: [["desk", 1]], is: [["desk", 1]] });
    const q = analyzeQuery("what is it?", VOCAB, { expander });
    expect(q.concepts).toEqual([]);
    expect(q.expansionText).toBe("");
    expect(expander.asked).toEqual([]);
  });
});
