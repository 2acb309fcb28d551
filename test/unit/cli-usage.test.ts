/**
 * `atom` usage errors: the whole usage text only for an unknown command or flag; a wrong argument
 * or value gets its one-line reason and a pointer to that command's usage (`atom help <command>`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli.ts";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-cli-usage-"));
const savedDataDir = process.env.ATOM_DATA_DIR;
afterAll(() => {
  if (savedDataDir === undefined) delete process.env.ATOM_DATA_DIR;
  else process.env.ATOM_DATA_DIR = savedDataDir;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** Runs `atom …` in-process and returns its exit code and output. */
async function atom(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const code = await run(argv, { stdout, stderr });
  return { code, stdout: out, stderr: err };
}

const WHOLE_USAGE = "Commands (atom help <command> shows one):";

describe("atom usage errors", () => {
  it("prints the whole usage for an unknown command or an unknown flag", async () => {
    for (const argv of [["frobnicate"], ["ask", "--fast", "q"], ["help", "frobnicate"]]) {
      const r = await atom(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toContain(WHOLE_USAGE);
    }
    expect((await atom("frobnicate")).stderr).toMatch(/^atom: unknown command "frobnicate"\n/);
  });

  it("answers a wrong argument or value with one line and where that command's usage is", async () => {
    const cases: [string[], string][] = [
      [["ask", "where", "--docs"], "atom: Option '--docs <value>' argument missing"],
      [["ingest", "a", "b"], "atom: ingest needs exactly one folder"],
      [["keys", "spin"], "atom: keys needs: rotate"],
      [["eval", "qa.jsonl"], "atom: eval needs --docs <dir>"],
    ];
    for (const [argv, message] of cases) {
      const r = await atom(...argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toBe(`${message}\nSee "atom help ${argv[0]}".\n`);
    }
  });

  it("atom ask x --docs <missing folder>: the reason and the pointer, not the whole usage", async () => {
    process.env.ATOM_DATA_DIR = dataDir;
    const missing = path.join(dataDir, "nonexistent");
    const r = await atom("ask", "x", "--docs", missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`atom: not a folder: ${missing}\nSee "atom help ask".\n`);
  }, 60_000);

  it("atom help <command> shows that command's usage", async () => {
    const r = await atom("help", "ask");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'Usage:\n  ask "<question>" [--docs <dir>] [--json]\n                                 answer one question from memory\n',
    );
    expect((await atom("help", "retention")).stdout).toContain("--threads N");
    expect((await atom("help")).stdout).toContain(WHOLE_USAGE);
  });
});
