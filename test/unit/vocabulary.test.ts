import { describe, expect, it } from "vitest";
import { stemToken } from "../../src/memory/analyze.ts";
import { boundedDamerau, Vocabulary } from "../../src/memory/vocabulary.ts";

function vocabOf(texts: string[]): Vocabulary {
  const v = new Vocabulary();
  for (const t of texts) v.update(t);
  return v;
}

describe("Vocabulary", () => {
  const texts = [
    ...Array.from({ length: 30 }, (_, i) => `Please acknowledge the referral policy ${i}.`),
    "Payroll runs weekly for contractors.",
    "Weekly check-ins with your manager; bi monthly reviews.",
    "The acknowlege typo appears once.",
  ];

  it("counts chunks, document frequency per stem and per surface word", () => {
    const v = vocabOf(texts);
    expect(v.size).toBe(33);
    expect(v.df(stemToken("acknowledge"))).toBe(30);
    expect(v.df(stemToken("acknowledged"))).toBe(30); // same stem
    expect(v.wordFrequency("weekly")).toBe(2);
    expect(v.wordFrequency("the")).toBe(0); // stop words are not counted
    expect(v.df("absent")).toBe(0);
  });

  it("weights rare stems above frequent ones, and unknown stems like a stem seen once", () => {
    const v = vocabOf(texts);
    const rare = v.idf(stemToken("payroll"));
    const common = v.idf(stemToken("referral"));
    expect(rare).toBeGreaterThan(common);
    expect(v.idf("neverseen")).toBeCloseTo(rare, 10);
    expect(common).toBeGreaterThan(0);
  });

  it("removes a chunk's counts again", () => {
    const v = vocabOf(texts);
    v.update("Payroll runs weekly for contractors.", -1);
    expect(v.size).toBe(32);
    expect(v.wordFrequency("payroll")).toBe(0);
    expect(v.df(stemToken("payroll"))).toBe(0);
    expect(v.correct("payrol")).toBeUndefined(); // the removed word is no longer a candidate
  });

  it("corrects a misspelt word to a frequent word within one edit (two for long words)", () => {
    const v = vocabOf(texts);
    expect(v.correct("acknowlege", 20)).toBe("acknowledge");
    expect(v.correct("referal")).toBe("referral");
    expect(v.correct("referrall")).toBe("referral");
    expect(v.correct("aknowlegde", 20)).toBe("acknowledge"); // 10+ letters: two edits allowed
    expect(v.correct("refferal")).toBeUndefined(); // 8 letters: two edits is too far
    expect(v.correct("acknowlegde", 20)).toBe("acknowledge"); // a transposition is one edit
    // Not frequent enough, too short, numbers, or too far away: no correction.
    expect(v.correct("referal", 31)).toBeUndefined();
    expect(v.correct("wek")).toBeUndefined();
    expect(v.correct("2024")).toBeUndefined();
    expect(v.correct("zzzzzzz")).toBeUndefined();
  });

  it("splits a run-together word into two known words", () => {
    const v = vocabOf(texts);
    expect(v.split("biweekly")).toEqual(["bi", "weekly"]);
    expect(v.split("payrollweekly")).toEqual(["payroll", "weekly"]);
    expect(v.split("short")).toBeUndefined();
    expect(v.split("qqqqqqqq")).toBeUndefined();
  });
});

describe("boundedDamerau", () => {
  it("measures edits, transpositions as one, and gives up past the bound", () => {
    expect(boundedDamerau("budget", "budget", 2)).toBe(0);
    expect(boundedDamerau("budget", "budgte", 2)).toBe(1);
    expect(boundedDamerau("budget", "bugdet", 2)).toBe(1);
    expect(boundedDamerau("budget", "budgets", 2)).toBe(1);
    expect(boundedDamerau("budget", "fudgel", 2)).toBe(2);
    expect(boundedDamerau("budget", "xyzxyz", 2)).toBe(3);
    expect(boundedDamerau("a", "abcdef", 2)).toBe(3);
  });
});
