import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stemSet, stemsAmong, stemToken, tokenize } from "../../src/memory/analyze.ts";
import { boundedDamerau, letterMask, Vocabulary } from "../../src/memory/vocabulary.ts";
import { HANDBOOK_DIR, HAS_HANDBOOK } from "../helpers/memory.ts";

/** The Unicode tokenizer the ASCII fast path must agree with. */
function slowTokenize(text: string): string[] {
  return (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/['’]/g, "")
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

function handbookTexts(limit: number): string[] {
  const out: string[] = [];
  for (const f of fs.readdirSync(HANDBOOK_DIR, { recursive: true }).map(String)) {
    if (f.endsWith(".md")) out.push(fs.readFileSync(path.join(HANDBOOK_DIR, f), "utf8"));
    if (out.length >= limit) break;
  }
  return out;
}

describe("tokenize", () => {
  it("gives the same tokens on ASCII and non-ASCII text as the Unicode rules", () => {
    for (const t of [
      "Don't e-mail PTO_requests (v2.1) to HR!",
      "Café résumé naïve — it’s “fine”",
      "ÅNGSTRÖM 42km ½ ﬁle",
      "",
      "   ...   ",
    ])
      expect(tokenize(t)).toEqual(slowTokenize(t));
  });

  it.skipIf(!HAS_HANDBOOK)("agrees with the Unicode rules on the handbook", () => {
    for (const t of handbookTexts(200)) expect(tokenize(t)).toEqual(slowTokenize(t));
  });
});

describe("stemsAmong", () => {
  it("finds exactly the wanted stems that stemSet finds, stop words excluded", () => {
    const text = "Using the referral policy: refer friends, referrals are paid. Uses of skis; dying plants.";
    const wanted = new Set(["use", "referr", "refer", "pay", "ski", "die", "absent", stemToken("policy")]);
    const all = stemSet(text);
    expect(stemsAmong(text, wanted)).toEqual(new Set([...wanted].filter((s) => all.has(s))));
    expect(stemsAmong(text, new Set())).toEqual(new Set());
  });

  it.skipIf(!HAS_HANDBOOK)(
    "keeps the first letter of every handbook word (what its shortcut relies on)",
    () => {
      for (const t of handbookTexts(300)) for (const w of tokenize(t)) expect(stemToken(w)[0]).toBe(w[0]);
    },
  );
});

describe("spelling candidates", () => {
  it("never prunes a word within the edit distance by its letter mask", () => {
    const words = [
      "acknowledge",
      "acknowlege",
      "referral",
      "referal",
      "onboarding",
      "onbording",
      "weekly",
      "wekly",
      "form",
      "from",
      "abcd",
      "badc",
    ];
    const popcount = (x: number) => x.toString(2).replace(/0/g, "").length;
    for (const a of words)
      for (const b of words) {
        const d = boundedDamerau(a, b, 2);
        if (d <= 2) expect(popcount(letterMask(a) ^ letterMask(b))).toBeLessThanOrEqual(2 * d);
      }
  });

  it("computes the same distances with transpositions as before", () => {
    expect(boundedDamerau("form", "from", 1)).toBe(1);
    expect(boundedDamerau("acknowlege", "acknowledge", 2)).toBe(1);
    expect(boundedDamerau("abcdef", "badcfe", 2)).toBe(3);
    expect(boundedDamerau("kitten", "sitting", 3)).toBe(3);
    expect(boundedDamerau("", "abc", 3)).toBe(3);
  });

  it("scales a sample's counts: one chunk of k stands for k", () => {
    const full = new Vocabulary();
    for (let i = 0; i < 8; i++) full.update(i % 2 === 0 ? "rare onboarding word" : "common onboarding");
    const sample = new Vocabulary(4);
    sample.update("rare onboarding word");
    sample.update("common onboarding");
    expect(sample.size).toBe(8);
    expect(sample.df(stemToken("onboarding"))).toBe(8);
    expect(sample.wordFrequency("rare")).toBe(4);
    expect(sample.idf(stemToken("rare"))).toBeCloseTo(full.idf(stemToken("rare")), 10);
    expect(sample.correct("onbording", 8)).toBe("onboarding");
  });
});
