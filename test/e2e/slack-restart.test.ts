import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "../../src/db/index.ts";
import { appMention, deliverEvent, eventCallback, nextTs, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin", "atom.js");

/** A free loopback port (so both runs of the server listen on the same one). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `atom serve` as a real child process; resolves once it logs that it is listening. */
function serve(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atom serve did not start\n${out}`));
      // A cold start takes minutes when the machine is shared with other test runs.
    }, 300_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("atom is listening")) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`atom serve exited with ${code}\n${out}`));
    });
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });

/**
 * Nothing acked is lost: `atom serve` is killed with SIGKILL after it acknowledged a mention and
 * while its reply is on the way to Slack (the fake holds `chat.postMessage`); started again on the
 * same data directory, it answers the message — exactly once.
 */
describe("atom serve killed after the ack, before the reply", { timeout: 900_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let dataDir: string;
  let children: ChildProcess[] = [];

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TKILL" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-slack-kill-"));
  });
  afterAll(async () => {
    for (const c of children) {
      c.kill("SIGKILL");
      await exited(c);
    }
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers the message exactly once after a restart", async () => {
    const port = await freePort();
    const env = {
      ATOM_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_API_URL: fake.apiUrl,
      // A job left by the killed process is taken over 3 s after its last heartbeat.
      ATOM_INBOUND_LEASE_SECONDS: "3",
    };
    const url = `http://127.0.0.1:${port}`;
    // The fake holds each reply for 15 s: long enough to kill the server while it waits.
    fake.setDelay("chat.postMessage", 15_000);

    const first = await serve(env);
    children.push(first.child);
    const channel = "CKILL001";
    const ts = nextTs();
    const payload = eventCallback({
      teamId: team.teamId,
      botUserId: team.botUserId,
      event: appMention({ botUserId: team.botUserId, text: "what is the home office budget?", channel, ts }),
    });
    const ack = await deliverEvent(url, payload);
    expect(ack.status).toBe(200);
    // The reply is on its way (held by the fake): kill the server now.
    await fake.waitFor(() => fake.received("chat.postMessage") >= 1, 60_000, "the reply on its way");
    first.child.kill("SIGKILL");
    await exited(first.child);
    expect(first.child.signalCode).toBe("SIGKILL");
    expect(fake.posted(channel)).toEqual([]);

    // Started again on the same data directory: the acknowledged message is answered.
    fake.setDelay("chat.postMessage", 0);
    const second = await serve(env);
    children.push(second.child);
    await fake.waitFor(() => fake.posted(channel).length >= 1, 60_000, "the answer after the restart");

    // Stop it cleanly and look at the job table: one job, done, started twice.
    second.child.kill("SIGTERM");
    await exited(second.child);
    expect(second.child.exitCode).toBe(0);
    children = [];
    const posted = fake.posted(channel);
    expect(posted).toHaveLength(1);
    expect(posted[0]?.threadTs).toBe(ts);
    // The first attempt never reached Slack (its client was gone when the fake would have
    // answered), so nothing was posted twice.
    const attempts = () => fake.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
    await fake.waitFor(() => attempts().length === 2, 30_000, "the held first attempt to end");
    expect(
      attempts()
        .map((c) => c.status)
        .sort(),
    ).toEqual([0, 200]);
    expect(attempts().find((c) => c.status === 0)?.error).toBe("client_gone");
    const db = await openPglite(path.join(dataDir, "pglite"));
    try {
      const jobs = await db.query<{ job_key: string; status: string; attempts: number }>(
        "SELECT job_key, status, attempts FROM jobs WHERE queue = 'inbound'",
      );
      expect(jobs.rows).toEqual([{ job_key: `msg:${channel}:${ts}`, status: "done", attempts: 2 }]);
    } finally {
      await db.close();
    }
  });
});
