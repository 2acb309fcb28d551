import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, migrate, openPostgres } from "../../src/db/index.ts";
import { FOLDER_SYNC_QUEUE } from "../../src/main.ts";
import { HANDBOOK_DIR, HAS_HANDBOOK } from "../helpers/memory.ts";
import { type LocalS3, startLocalS3 } from "../helpers/s3.ts";
import { exited, type Served, serveProcess } from "../helpers/serve.ts";
import { appMention, deliverEvent, eventCallback, nextTs, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const DB_URL = process.env.TEST_DATABASE_URL;
if (!DB_URL) console.warn("replicas e2e skipped: TEST_DATABASE_URL is not set");
if (!HAS_HANDBOOK) console.warn("replicas e2e skipped: ../shared/corpus/handbook is absent");

interface JobRow {
  status: string;
  attempts: number;
  locked_by: string | null;
}

/**
 * Replicas of `atom serve` (real processes on loopback) on one PostgreSQL and one memory on a
 * local S3-compatible store, indexing the real handbook from ATOM_DOCS_DIR:
 * - the folder sync runs on one replica only; killed mid-sync (SIGKILL), another replica finishes
 *   it; a replica started later does not start it again;
 * - Slack deliveries spread over two replicas, each also redelivered to the other, get exactly one
 *   reply each;
 * - a note remembered through one replica is found by a question to the other within seconds.
 */
describe.skipIf(!DB_URL || !HAS_HANDBOOK)(
  "atom serve replicas on PostgreSQL and S3",
  { timeout: 600_000 },
  () => {
    let fake: FakeSlack;
    let team: FakeTeam;
    let s3: LocalS3;
    let admin: Db;
    let db: Db;
    let schema: string;
    const dirs: string[] = [];
    const running: Served[] = [];

    beforeAll(async () => {
      fake = await FakeSlack.start();
      team = fake.addTeam({ teamId: "TREPLICA" });
      s3 = await startLocalS3();
      schema = `t_atom_rep_${process.pid}_${Date.now().toString(36)}`;
      admin = await openPostgres(DB_URL!);
      await admin.exec(`CREATE SCHEMA ${schema}`);
      db = await openPostgres(schemaUrl());
      await migrate(db);
    });
    afterAll(async () => {
      for (const r of running) {
        r.child.kill("SIGKILL");
        await exited(r.child);
      }
      await db?.close();
      await admin?.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin?.close();
      await fake?.close();
      await s3?.close();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    });

    const schemaUrl = () =>
      `${DB_URL}${DB_URL!.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

    const start = async (name: string): Promise<Served> => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `atom-rep-${name}-`));
      dirs.push(dir);
      const served = await serveProcess({
        ATOM_DATA_DIR: dir,
        DATABASE_URL: schemaUrl(),
        ...s3.env("memory"),
        ATOM_DOCS_DIR: HANDBOOK_DIR,
        ATOM_SYNC_INTERVAL_SECONDS: "3600",
        // A sync whose replica died is taken over 15 s after its last heartbeat.
        ATOM_SYNC_LEASE_SECONDS: "15",
        ATOM_INBOUND_LEASE_SECONDS: "10",
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
      });
      running.push(served);
      return served;
    };
    const pidOf = (s: Served) => s.child.pid!;
    const syncJobs = async () =>
      (
        await db.query<JobRow>("SELECT status, attempts, locked_by FROM jobs WHERE queue = $1", [
          FOLDER_SYNC_QUEUE,
        ])
      ).rows;
    const waitUntil = async (cond: () => Promise<boolean>, timeoutMs: number, what: string) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline) {
          const logs = running.map((r) => r.output().slice(-2000)).join("\n----\n");
          throw new Error(`timed out waiting for ${what}\n${logs}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };

    it("syncs once, survives a replica killed mid-sync, replies once per delivery, shares memory", async () => {
      const [a, b] = await Promise.all([start("a"), start("b")]);

      // Both replicas offered the folder sync of this window: one job, run by one of them.
      await waitUntil(
        async () => (await syncJobs()).some((j) => j.status === "running"),
        120_000,
        "the sync",
      );
      const [first] = await syncJobs();
      expect(await syncJobs()).toHaveLength(1);
      const holder = [a, b].find((r) => first!.locked_by?.includes(`:${pidOf(r)}:`));
      const other = holder === a ? b : a;
      expect(holder).toBeDefined();
      // Mid-sync (some documents written, not all), the replica running it dies without a goodbye.
      const docCount = async () =>
        Number((await db.query<{ n: string }>("SELECT count(*) AS n FROM documents")).rows[0]!.n);
      expect((await syncJobs())[0]!.status).toBe("running");
      holder!.child.kill("SIGKILL");
      await exited(holder!.child);
      const atKill = await docCount();

      // The other replica takes the job over once the lease runs out, and finishes it.
      await waitUntil(async () => (await syncJobs())[0]?.status === "done", 300_000, "the take-over");
      const [done] = await syncJobs();
      expect(done!.attempts).toBe(2);
      expect(other!.output()).toContain("docs folder synced");
      expect(holder!.output()).not.toContain("docs folder synced");
      const files = fs
        .readdirSync(HANDBOOK_DIR, { recursive: true })
        .filter((f) => String(f).endsWith(".md"));
      const indexed = await docCount();
      expect(indexed).toBeGreaterThanOrEqual(files.length);
      expect(indexed).toBeGreaterThan(atKill);

      // A replica started now offers the same window's sync: nothing new runs.
      const c = await start("c");
      const replicas = [other!, c];
      expect(await syncJobs()).toEqual([done]);

      // Deliveries spread over two replicas; each is redelivered (Slack retry) to the other one.
      const channel = "CREPLICA1";
      const questions = [
        "what is the home office budget?",
        "how do I report an incident?",
        "what is the parental leave policy?",
        "how much vacation do we get?",
        "who approves expenses?",
        "what is the on-call rotation?",
      ];
      const sent: string[] = [];
      await Promise.all(
        questions.map(async (q, i) => {
          const ts = nextTs();
          sent.push(ts);
          const payload = eventCallback({
            teamId: team.teamId,
            botUserId: team.botUserId,
            event: appMention({ botUserId: team.botUserId, text: q, channel, ts }),
          });
          const ack = await deliverEvent(replicas[i % 2]!.url, payload);
          expect(ack.status).toBe(200);
          const retry = await deliverEvent(replicas[(i + 1) % 2]!.url, payload, { retryNum: 1 });
          expect(retry.status).toBe(200);
        }),
      );
      await fake.waitFor(() => fake.posted(channel).length >= questions.length, 120_000, "one reply each");
      // Every message is done in the job table: nothing is still on its way to a second reply.
      await waitUntil(
        async () =>
          Number(
            (
              await db.query<{ n: string }>(
                "SELECT count(*) AS n FROM jobs WHERE queue = 'inbound' AND status <> 'done'",
              )
            ).rows[0]!.n,
          ) === 0,
        60_000,
        "the inbound jobs to finish",
      );
      const replies = fake.posted(channel);
      expect(replies.map((r) => r.threadTs).sort()).toEqual([...sent].sort());

      // A note remembered through one replica is found by a question to the other within seconds.
      const notes = "CREPLNOTE";
      await deliverEvent(
        c.url,
        eventCallback({
          teamId: team.teamId,
          botUserId: team.botUserId,
          event: appMention({
            botUserId: team.botUserId,
            text: "remember that the Zanzibar office wifi network is called quokka-lagoon",
            channel: notes,
          }),
        }),
      );
      await fake.waitFor(() => fake.posted(notes).length >= 1, 60_000, "the note to be stored");
      const stored = Date.now();
      let seenAfterMs = -1;
      while (seenAfterMs < 0 && Date.now() - stored < 30_000) {
        const before = fake.posted(notes).length;
        await deliverEvent(
          other!.url,
          eventCallback({
            teamId: team.teamId,
            botUserId: team.botUserId,
            event: appMention({
              botUserId: team.botUserId,
              text: "what is the Zanzibar office wifi network called?",
              channel: notes,
            }),
          }),
        );
        await fake.waitFor(() => fake.posted(notes).length > before, 60_000, "an answer");
        if (JSON.stringify(fake.posted(notes).at(-1)).includes("quokka-lagoon"))
          seenAfterMs = Date.now() - stored;
      }
      console.log(`a note written on one replica was found on another after ${seenAfterMs} ms`);
      expect(seenAfterMs).toBeGreaterThanOrEqual(0);
      expect(seenAfterMs).toBeLessThan(10_000);

      for (const r of replicas) r.child.kill("SIGTERM");
      for (const r of replicas) await exited(r.child);
      expect(replicas.map((r) => r.child.exitCode)).toEqual([0, 0]);
    });
  },
);
