import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "../../src/db/index.ts";
import { FILES_DIR, HANDBOOK_DIR, HAS_FILES, HAS_HANDBOOK, tempDir } from "../helpers/memory.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin", "atom.js");
const HOME_OFFICE = "benefits-pay-perks/benefits-perks/spending-company-money.md";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/atom.js …` with a clean environment plus `env`; never lets the child hang. */
function atom(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atom ${args.join(" ")} timed out\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// Each run starts a fresh process (tsx, PGlite, LanceDB); slow on a busy 2-core machine.
describe("atom CLI", { timeout: 180_000 }, () => {
  let dataDir: string;
  let work: string;
  const env = () => ({ ATOM_DATA_DIR: dataDir });

  beforeAll(() => {
    dataDir = tempDir("atom-cli-data-");
    work = tempDir("atom-cli-work-");
  });
  afterAll(() => {
    for (const d of [dataDir, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  describe.runIf(HAS_HANDBOOK)("on the real handbook", () => {
    it("ask --docs --json prints exactly one JSON object that cites the home office page", async () => {
      const r = await atom(
        ["ask", "how much is the home office budget?", "--docs", HANDBOOK_DIR, "--json"],
        env(),
      );
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0]!);
      expect(Object.keys(out).sort()).toEqual(["answer", "citations", "found"]);
      expect(out.found).toBe(true);
      expect(typeof out.answer).toBe("string");
      expect(out.citations.length).toBeGreaterThan(0);
      out.citations.forEach((c: Record<string, unknown>, i: number) => {
        expect(Object.keys(c).sort()).toEqual(["heading", "n", "snippet", "title", "uri"]);
        expect(c.n).toBe(i + 1);
        expect(typeof c.title).toBe("string");
        expect(typeof c.snippet).toBe("string");
        expect(c.heading === null || typeof c.heading === "string").toBe(true);
        // A local file is cited by its path relative to the docs folder.
        expect(fs.existsSync(path.join(HANDBOOK_DIR, String(c.uri)))).toBe(true);
      });
      expect(out.citations.map((c: { uri: string }) => c.uri)).toContain(HOME_OFFICE);
    });

    it("ask without --json prints a readable answer with sources, reusing the index", async () => {
      const r = await atom(["ask", "how much is the home office budget?", "--docs", HANDBOOK_DIR], env());
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(HOME_OFFICE);
      expect(r.stdout).toMatch(/\[1\]/);
      // Nothing changed, so no ingest summary is printed.
      expect(r.stderr).not.toMatch(/Synced \d+ files/);
    });

    it("eval --json prints the scores of a question file", async () => {
      const qa = path.join(work, "qa.jsonl");
      fs.writeFileSync(
        qa,
        [
          { id: "a1", question: "how much is the home office budget?", expected_paths: [HOME_OFFICE] },
          {
            id: "n1",
            question: "how do I log into the Citrix remote desktop from my home PC?",
            expected_paths: [],
          },
        ]
          .map((q) => JSON.stringify(q))
          .join("\n"),
      );
      const r = await atom(["eval", qa, "--docs", HANDBOOK_DIR, "--json"], env());
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      const scores = JSON.parse(lines[0]!);
      expect(Object.keys(scores).sort()).toEqual([
        "fact_in_answer",
        "hit_at_1",
        "hit_at_5",
        "mrr",
        "n",
        "no_answer_accuracy",
      ]);
      expect(scores.n).toBe(2);
      expect(scores.hit_at_5).toBe(1);
      for (const k of ["hit_at_1", "mrr", "no_answer_accuracy", "fact_in_answer"]) {
        expect(scores[k]).toBeGreaterThanOrEqual(0);
        expect(scores[k]).toBeLessThanOrEqual(1);
      }
    });
  });

  it.runIf(HAS_FILES)(
    "ingest reports every file of the real files folder as indexed or with a reason",
    async () => {
      const r = await atom(["ingest", FILES_DIR], env());
      expect(r.code, r.stderr).toBe(0);
      const files = fs.readdirSync(FILES_DIR).filter((f) => !f.startsWith("."));
      const m =
        /Synced (\d+) files in [\d.]+ s: (\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed/.exec(
          r.stdout,
        );
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBe(files.length);
      const reported = [...r.stdout.matchAll(/^ {2}- (.+?): (.+)$/gm)].map((x) => ({
        path: x[1]!,
        reason: x[2]!,
      }));
      expect(reported.map((p) => p.path)).toContain("broken-truncated.pdf");
      for (const p of reported) expect(p.reason.trim().length).toBeGreaterThan(3);
      // Every other file is in memory.
      const db = await openPglite(path.join(dataDir, "pglite"));
      try {
        const rows = await db.query<{ doc_id: string }>(
          "SELECT doc_id FROM documents WHERE source_id LIKE 'folder:files-%'",
        );
        const indexed = rows.rows.map((x) => x.doc_id);
        expect(Number(m![2])).toBe(indexed.length);
        for (const f of files) {
          const ok = indexed.includes(f) || reported.some((p) => p.path === f);
          expect(ok, `${f} is neither indexed nor reported`).toBe(true);
        }
        expect(indexed).not.toContain("broken-truncated.pdf");
      } finally {
        await db.close();
      }
    },
  );

  describe("bad usage", () => {
    it("exits 2 with a message", async () => {
      const bad = path.join(work, "bad.jsonl");
      fs.writeFileSync(bad, '{"id":"x","question":"q","expected_paths":[]}\nnot json\n');
      const cases: [string[], RegExp][] = [
        [[], /Usage: atom/],
        [["frobnicate"], /unknown command "frobnicate"/],
        [["ask"], /ask needs a question/],
        [["ingest", path.join(work, "does-not-exist")], /not a folder/],
        [["eval", "qa.jsonl"], /eval needs --docs/],
        [["eval", bad, "--docs", work], /bad\.jsonl:2: not valid JSON/],
      ];
      const runs = await Promise.all(cases.map(([args]) => atom(args, env())));
      runs.forEach((r, i) => {
        const [args, message] = cases[i]!;
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.stderr + r.stdout, args.join(" ")).toMatch(message);
        expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace
      });
    });

    it("exits 2 on bad settings, one line per value, without echoing secrets", async () => {
      const r = await atom(["ask", "hello"], {
        ...env(),
        PORT: "abc",
        DATABASE_URL: "mysql://admin:hunter2-secret@db/x",
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("PORT: must be a number");
      expect(r.stderr).toContain("DATABASE_URL: must start with postgres:// or postgresql://");
      expect(r.stderr).not.toContain("hunter2");
    });
  });
});

if (!HAS_HANDBOOK) console.warn(`skipping CLI handbook tests: ${HANDBOOK_DIR} is absent`);
if (!HAS_FILES) console.warn(`skipping CLI ingest test: ${FILES_DIR} is absent`);
