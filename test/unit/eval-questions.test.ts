import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readQuestions, statesFact } from "../../src/cli/eval.ts";
import { UsageError } from "../../src/cli/runtime.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-eval-"));
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

describe("readQuestions", () => {
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads one question per line, skipping blank lines", () => {
    const file = write(
      "ok.jsonl",
      '{"id":"a","question":"home office budget","expected_paths":["x.md"],"expected_fact":"$2,000"}\n\n' +
        '{"id":"b","question":"citrix?","expected_paths":[]}\n',
    );
    expect(readQuestions(file).map((q) => q.id)).toEqual(["a", "b"]);
  });

  it("refuses an empty file instead of scoring nothing", () => {
    const file = write("empty.jsonl", "\n\n");
    expect(() => readQuestions(file)).toThrow(UsageError);
    expect(() => readQuestions(file)).toThrow(/no questions/);
  });

  it("names the line of a malformed entry", () => {
    const file = write("bad.jsonl", '{"id":"a","question":"q","expected_paths":[]}\n{"id":"b"\n');
    expect(() => readQuestions(file)).toThrow(/bad\.jsonl:2: not valid JSON/);
    const missing = write("missing.jsonl", '{"id":"a","expected_paths":[]}\n');
    expect(() => readQuestions(missing)).toThrow(/missing\.jsonl:1: question/);
  });

  it("reports a missing file", () => {
    expect(() => readQuestions(path.join(dir, "nope.jsonl"))).toThrow(/question file not found/);
  });
});

describe("statesFact", () => {
  it("compares without case, spaces or thousands separators", () => {
    expect(statesFact("We expect new teammates to spend up to $2000 for desk setup.", "$2,000")).toBe(true);
    expect(statesFact("up to $2 000 for desk setup", "$2,000")).toBe(true);
    expect(statesFact("Post in #Ask-People-Team", "#ask-people-team")).toBe(true);
    expect(statesFact("a minimum of  30 days", "minimum of 30 days")).toBe(true);
    expect(statesFact("up to $200 for desk setup", "$2,000")).toBe(false);
    expect(statesFact("anything", "")).toBe(false);
  });
});
