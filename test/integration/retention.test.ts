import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAINTENANCE_QUEUE, scheduleRetention } from "../../src/core/maintenance.ts";
import { JobWorker } from "../../src/core/worker.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import { applyRetention, DEFAULT_RETENTION } from "../../src/db/retention.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { testBackends } from "../helpers/memory.ts";

const logger = createLogger("silent");

describe.each(testBackends())("retention on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  /** Inserts one row per age into each kept table. */
  async function seed(ages: number[]) {
    for (const days of ages) {
      const at = `now() - make_interval(days => ${days}) - interval '1 minute'`;
      await db.query(
        `INSERT INTO thread_turns (tenant_id, platform, channel_id, thread_id, role, text, created_at)
         VALUES ('t', 'slack', 'C', 'th-${days}', 'user', 'q', ${at})`,
      );
      await db.query(
        `INSERT INTO answers (answer_id, tenant_id, platform, question, answer, created_at)
         VALUES ('a-${days}', 't', 'slack', 'q', 'a', ${at})`,
      );
      await db.query(
        `INSERT INTO processed_events (platform, tenant_id, event_key, created_at) VALUES ('slack', 't', 'e-${days}', ${at})`,
      );
      await db.query(
        `INSERT INTO reply_shares (share_id, tenant_id, platform, channel_id, user_id, reply, created_at)
         VALUES ('s-${days}', 't', 'slack', 'C', 'U', '{}'::jsonb, ${at})`,
      );
      await db.query(
        `INSERT INTO teams_sent_messages (tenant_id, conversation_id, activity_id, answer_id, created_at)
         VALUES ('t', 'a:1', 'm-${days}', 'a-${days}', ${at})`,
      );
      await db.query(
        `INSERT INTO jobs (queue, tenant_id, job_key, status, finished_at) VALUES ('inbound', 't', 'done-${days}', 'done', ${at})`,
      );
      await db.query(
        `INSERT INTO jobs (queue, tenant_id, job_key, status, finished_at) VALUES ('inbound', 't', 'dead-${days}', 'dead', ${at})`,
      );
    }
    await db.query(
      `INSERT INTO jobs (queue, tenant_id, job_key, status, run_at) VALUES ('inbound', 't', 'waiting', 'queued', now() - interval '60 days')`,
    );
    await db.query(
      `INSERT INTO oauth_states (state_hash, provider, browser_hash, expires_at) VALUES ('old', 'slack', 'b', now() - interval '1 minute'), ('live', 'slack', 'b', now() + interval '5 minutes')`,
    );
  }

  it("deletes exactly the records past their policy", async () => {
    await seed([1, 6, 8, 29, 31, 45]);
    const report = await applyRetention(db, DEFAULT_RETENTION);
    const keys = async (sql: string) => (await db.query<{ k: string }>(sql)).rows.map((r) => r.k).sort();
    expect(await keys("SELECT thread_id AS k FROM thread_turns")).toEqual(["th-1", "th-29", "th-6", "th-8"]);
    expect(await keys("SELECT answer_id AS k FROM answers")).toEqual(["a-1", "a-29", "a-6", "a-8"]);
    expect(await keys("SELECT event_key AS k FROM processed_events")).toEqual(["e-1", "e-6"]);
    expect(await keys("SELECT share_id AS k FROM reply_shares")).toEqual(["s-1", "s-29", "s-6", "s-8"]);
    expect(await keys("SELECT activity_id AS k FROM teams_sent_messages")).toEqual([
      "m-1",
      "m-29",
      "m-6",
      "m-8",
    ]);
    expect(await keys("SELECT job_key AS k FROM jobs")).toEqual([
      "dead-1",
      "dead-29",
      "dead-6",
      "dead-8",
      "done-1",
      "done-6",
      "waiting",
    ]);
    expect(await keys("SELECT state_hash AS k FROM oauth_states")).toEqual(["live"]);
    expect(report).toMatchObject({
      thread_turns: 2,
      answers: 2,
      reply_shares: 2,
      teams_sent_messages: 2,
      processed_events: 4,
      jobs: 6,
      oauth_states: 1,
    });
    // A second run finds nothing more.
    expect(Object.values(await applyRetention(db, DEFAULT_RETENTION)).every((n) => n === 0)).toBe(true);
  });

  it("runs once per window however many replicas offer it", async () => {
    await db.query("DELETE FROM jobs");
    const workers = [0, 1, 2].map(() => new JobWorker(new JobStore(db), { logger, pollMs: 20 }));
    const stops = workers.map((jobs) =>
      scheduleRetention({ db, jobs, logger, policy: DEFAULT_RETENTION, everyMs: 3_600_000 }),
    );
    for (const w of workers) w.start();
    try {
      await workers[0]!.drain({ queues: [MAINTENANCE_QUEUE] });
      const runs = await workers[0]!.store.list({ queue: MAINTENANCE_QUEUE });
      expect(runs.length).toBe(1);
      expect(runs[0]!.status).toBe("done");
    } finally {
      for (const s of stops) s();
      for (const w of workers) await w.stop();
    }
  });
});
