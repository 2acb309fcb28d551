import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, migrate, openPostgres } from "../../src/db/index.ts";
import { parseRequest } from "../../src/workflows/grammar/index.ts";
import { WorkflowStore } from "../../src/workflows/repository.ts";
import { nextTs, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin", "atom.js");
const DB_URL = process.env.TEST_DATABASE_URL;
if (!DB_URL) console.warn("workflow replicas e2e skipped: TEST_DATABASE_URL is not set");

/** `atom serve` as a child process; resolves once it logs that it is listening. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let started = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atom serve did not start\n${out}`));
    }, 120_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!started && out.includes("atom is listening")) {
        started = true;
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`atom serve exited with ${code}\n${out}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

/**
 * Two `atom serve` replicas on one PostgreSQL run the same every-minute workflow for three
 * minutes: each scheduled minute runs exactly once, and none is lost when one replica is killed
 * (SIGKILL) half-way.
 */
describe.skipIf(!DB_URL)("two atom serve replicas, one workflow", { timeout: 330_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let admin: Db;
  let db: Db;
  let schema: string;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TREPL" });
    schema = `t_atom_wfrep_${process.pid}_${Date.now().toString(36)}`;
    admin = await openPostgres(DB_URL!);
    await admin.exec(`CREATE SCHEMA ${schema}`);
    db = await openPostgres(schemaUrl());
    await migrate(db);
  });
  afterAll(async () => {
    for (const c of children) {
      c.kill("SIGKILL");
      await exited(c);
    }
    await db?.close();
    await admin?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.close();
    await fake?.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  const schemaUrl = () =>
    `${DB_URL}${DB_URL!.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

  it("runs each scheduled minute exactly once, also after one replica is killed", async () => {
    const env = (name: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `atom-wf-${name}-`));
      dirs.push(dir);
      return {
        ATOM_DATA_DIR: dir,
        DATABASE_URL: schemaUrl(),
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        ATOM_WORKFLOW_MIN_INTERVAL_SECONDS: "60",
        ATOM_WORKFLOW_POLL_SECONDS: "2",
      };
    };
    const [a, b] = await Promise.all([serve(env("a")), serve(env("b"))]);
    children.push(a.child, b.child);

    // The same workflow for both: every minute, a digest into one Slack thread.
    const channel = "CREPL001";
    const thread = nextTs();
    const now = new Date();
    const parsed = parseRequest("every minute post a digest of new documents here", {
      now,
      timeZone: "UTC",
      timeZoneKnown: true,
      minIntervalSeconds: 60,
    });
    if (!parsed.ok) throw new Error(parsed.reason);
    const first = new Date(Math.ceil((now.getTime() + 5000) / 60_000) * 60_000);
    const fires = [0, 1, 2, 3].map((i) => new Date(first.getTime() + i * 60_000));
    const store = new WorkflowStore(db);
    const wf = await db.transaction((tx) =>
      store.create(
        tx,
        {
          platform: "slack",
          tenantId: "default",
          channelId: channel,
          threadId: thread,
          ownerId: "UOWNER1",
          isDirect: false,
        },
        parsed.definition,
        first,
      ),
    );

    const runsOf = async () =>
      (await store.runs(wf.id, 100)).filter((r) => r.scheduledFor.getTime() <= fires.at(-1)!.getTime());
    const succeeded = async (n: number) =>
      (await runsOf()).filter((r) => r.status === "succeeded").length >= n;
    const waitUntil = async (cond: () => Promise<boolean>, timeoutMs: number, what: string) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}\n${a.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };

    // Half-way (after the second minute ran), replica B dies without a goodbye.
    await waitUntil(() => succeeded(2), fires[1]!.getTime() - Date.now() + 30_000, "the first two minutes");
    b.child.kill("SIGKILL");
    await exited(b.child);
    await waitUntil(() => succeeded(4), fires[3]!.getTime() - Date.now() + 45_000, "all four minutes");

    const runs = await runsOf();
    expect(runs.map((r) => r.scheduledFor.toISOString()).sort()).toEqual(fires.map((f) => f.toISOString()));
    expect(runs.every((r) => r.status === "succeeded" && r.kind === "scheduled")).toBe(true);
    // Exactly one post per scheduled minute in the thread (the digest names its minute).
    const posts = fake
      .callsOf("chat.postMessage")
      .filter((c) => c.params.channel === channel && c.params.thread_ts === thread)
      .map((c) => /— \w{3} \d+ \w{3} (\d\d:\d\d)/.exec(String(c.params.text))?.[1]);
    const minutes = fires.map((f) => f.toISOString().slice(11, 16));
    expect(posts.filter((p) => p !== undefined && minutes.includes(p)).sort()).toEqual(minutes);
    a.child.kill("SIGTERM");
    await exited(a.child);
    expect(a.child.exitCode).toBe(0);
  });
});
