import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.ts";
import { knownSecrets, TEST_SECRETS } from "../helpers/secrets.ts";
import { mask, scanText } from "../../scripts/secret-scan.ts";

const root = path.resolve(import.meta.dirname, "../..");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-secret-scan-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs scripts/secret-scan.ts as .ci/run does. */
function scan(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", path.join(root, "scripts/secret-scan.ts"), ...args],
    {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("the test run's secret check", () => {
  it("finds each fake secret the tests use and each secret shape, never printing the value", () => {
    for (const s of knownSecrets()) expect(scanText(`x ${s} y`).length, mask(s)).toBeGreaterThan(0);
    const shapes = [
      "token xoxb-12345-67890-AbCdEf",
      "xoxp-1-2-3-abcdef",
      "key sk-ant-api03-AAAAAAAAAAAA",
      "key sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
      "Authorization: Bearer abcdefghijklmnopqrstuvwxyz.0123",
      "https://atom.example.com/admin/login?link=1a2b3c4d.1767225600.9f8e7d6c5b4a3928",
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdG9tIn0.c2lnbmF0dXJlLXZhbHVl",
    ];
    for (const s of shapes)
      expect(
        scanText(s).map((f) => f.kind),
        s,
      ).not.toEqual([]);
    // Redacted forms and ordinary text pass.
    for (const ok of [
      '{"msg":"calling with Authorization: Bear…[redacted] and key sk-p…[redacted]"}',
      "GET /connect/google?link=[redacted]&x=1",
      '{"token":"[redacted]","botToken":"[redacted]"}',
      "the xoxb-… token of the workspace; keys like sk-…",
    ])
      expect(scanText(ok), ok).toEqual([]);
  });

  it("fails on a planted secret in a log directory and says where, without printing it", () => {
    const logs = path.join(dir, "logs-bad");
    fs.mkdirSync(logs);
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ level: 30, msg: `line ${i}` }));
    lines.splice(3, 0, JSON.stringify({ level: 30, msg: `refresh with ${TEST_SECRETS.slackClientSecret}` }));
    fs.writeFileSync(path.join(logs, "atom-1.log"), `${lines.join("\n")}\n`);
    const r = scan(logs);
    expect(r.status).toBe(1);
    expect(r.out).toContain("atom-1.log:4: known secret");
    expect(r.out).not.toContain(TEST_SECRETS.slackClientSecret);
  });

  it("passes a clean run, and fails one whose logs are too few to mean anything", () => {
    const logs = path.join(dir, "logs-ok");
    fs.mkdirSync(logs);
    fs.writeFileSync(path.join(logs, "atom-2.log"), `${JSON.stringify({ msg: "hello" })}\n`);
    const output = path.join(dir, "run.txt");
    fs.writeFileSync(output, " ✓ test/unit/chunk.test.ts (12 tests)\n");
    expect(scan(output, logs).status).toBe(0);
    expect(scan("--min-log-lines", "10", output, logs)).toMatchObject({ status: 2 });
  });

  it("ATOM_LOG_FILE: a logger at level silent still appends redacted debug lines, which the check passes", () => {
    const file = path.join(dir, "capture", "atom-{pid}.log");
    const before = process.env.ATOM_LOG_FILE;
    process.env.ATOM_LOG_FILE = file;
    try {
      const log = createLogger("silent");
      log.debug(
        { apiKey: TEST_SECRETS.openaiKey, url: "https://x.example/admin?link=abcdef123456.99.ffee00112233" },
        "dump",
      );
      log.info(`signing with ${TEST_SECRETS.slackSigningSecret} and Bearer ${TEST_SECRETS.anthropicKey}`);
      log.error({ err: new Error(`refused ${TEST_SECRETS.anthropicKey}`) }, "failed");
    } finally {
      if (before === undefined) delete process.env.ATOM_LOG_FILE;
      else process.env.ATOM_LOG_FILE = before;
    }
    const written = path.join(dir, "capture", `atom-${process.pid}.log`);
    const text = fs.readFileSync(written, "utf8");
    expect(text.trim().split("\n")).toHaveLength(3);
    expect(text).toContain('"msg":"dump"');
    const r = scan(path.join(dir, "capture"));
    // The signing secret has no recognisable shape: only the known-secret list catches it.
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/known secret 8f74…/);
    expect(r.out).not.toMatch(/OpenAI|Anthropic|signed link/);
  });
});
