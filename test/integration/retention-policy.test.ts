import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, migrate } from "../../src/db/index.ts";
import {
  applyRetention,
  DEFAULT_RETENTION,
  getTenantRetention,
  setTenantRetention,
} from "../../src/db/retention.ts";
import { testBackends } from "../helpers/memory.ts";

/** The fake clock: retention runs "at" this instant, rows are dated relative to it. */
const NOW = new Date("2031-06-15T12:00:00Z");
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000 - 60_000).toISOString();

describe.each(testBackends())("retention policies with a fake clock on $name", (backend) => {
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

  async function seed(tenant: string, ages: number[]) {
    for (const d of ages) {
      const at = daysAgo(d);
      await db.query(
        `INSERT INTO thread_turns (tenant_id, platform, channel_id, thread_id, role, text, created_at)
         VALUES ($1, 'slack', 'C', $2, 'user', 'q', $3)`,
        [tenant, `th-${d}`, at],
      );
      await db.query(
        "INSERT INTO processed_events (platform, tenant_id, event_key, created_at) VALUES ('slack', $1, $2, $3)",
        [tenant, `e-${d}`, at],
      );
      await db.query(
        "INSERT INTO audit_log (tenant_id, actor, action, created_at) VALUES ($1, 'U', $2, $3)",
        [tenant, `a-${d}`, at],
      );
      const wf = await db.query<{ id: string }>(
        `INSERT INTO workflows (tenant_id, name, name_key, platform, channel_id, owner_id)
         VALUES ($1, $2, $2, 'slack', 'C', 'U') RETURNING id::text AS id`,
        [tenant, `wf-${d}`],
      );
      await db.query(
        `INSERT INTO workflow_runs (workflow_id, tenant_id, run_key, kind, scheduled_for, version, status, finished_at)
         VALUES ($1::bigint, $2, $3, 'scheduled', $4, 1, 'succeeded', $4)`,
        [wf.rows[0]!.id, tenant, `r-${d}`, at],
      );
    }
    // A run still going is never deleted, however old.
    const wf = await db.query<{ id: string }>(
      `INSERT INTO workflows (tenant_id, name, name_key, platform, channel_id, owner_id)
       VALUES ($1, 'running', 'running', 'slack', 'C', 'U') RETURNING id::text AS id`,
      [tenant],
    );
    await db.query(
      `INSERT INTO workflow_runs (workflow_id, tenant_id, run_key, kind, scheduled_for, version, status)
       VALUES ($1::bigint, $2, 'r-running', 'scheduled', $3, 1, 'running')`,
      [wf.rows[0]!.id, tenant, daysAgo(400)],
    );
  }

  const keys = async (sql: string, tenant: string) =>
    (await db.query<{ k: string }>(sql, [tenant])).rows.map((r) => r.k).sort();

  it("deletes exactly what is past the global policy (30 d threads, 7 d events, 90 d run logs, 365 d audit)", async () => {
    await seed("g", [1, 6, 8, 29, 31, 89, 91, 364, 366]);
    await applyRetention(db, DEFAULT_RETENTION, { now: NOW });
    expect(await keys("SELECT thread_id AS k FROM thread_turns WHERE tenant_id = $1", "g")).toEqual([
      "th-1",
      "th-29",
      "th-6",
      "th-8",
    ]);
    expect(await keys("SELECT event_key AS k FROM processed_events WHERE tenant_id = $1", "g")).toEqual([
      "e-1",
      "e-6",
    ]);
    expect(await keys("SELECT run_key AS k FROM workflow_runs WHERE tenant_id = $1", "g")).toEqual([
      "r-1",
      "r-29",
      "r-31",
      "r-6",
      "r-8",
      "r-89",
      "r-running",
    ]);
    expect(await keys("SELECT action AS k FROM audit_log WHERE tenant_id = $1", "g")).toEqual([
      "a-1",
      "a-29",
      "a-31",
      "a-364",
      "a-6",
      "a-8",
      "a-89",
      "a-91",
    ]);
    // Step logs of deleted runs went with them (cascade); the same clock finds nothing more.
    const again = await applyRetention(db, DEFAULT_RETENTION, { now: NOW });
    expect(Object.values(again).every((n) => n === 0)).toBe(true);
  });

  it("a workspace's own policy overrides the global one for its rows only", async () => {
    expect(await setTenantRetention(db, "short", { threadDays: 5, auditDays: 60, runLogDays: 10 })).toEqual({
      threadDays: 5,
      auditDays: 60,
      runLogDays: 10,
    });
    await seed("short", [4, 6, 9, 11, 59, 61]);
    await seed("long", [4, 6, 9, 11, 59, 61]);
    await applyRetention(db, DEFAULT_RETENTION, { now: NOW });
    expect(await keys("SELECT thread_id AS k FROM thread_turns WHERE tenant_id = $1", "short")).toEqual([
      "th-4",
    ]);
    expect(await keys("SELECT run_key AS k FROM workflow_runs WHERE tenant_id = $1", "short")).toEqual([
      "r-4",
      "r-6",
      "r-9",
      "r-running",
    ]);
    expect(await keys("SELECT action AS k FROM audit_log WHERE tenant_id = $1", "short")).toEqual([
      "a-11",
      "a-4",
      "a-59",
      "a-6",
      "a-9",
    ]);
    // The other workspace follows the global policy.
    expect(await keys("SELECT thread_id AS k FROM thread_turns WHERE tenant_id = $1", "long")).toEqual([
      "th-11",
      "th-4",
      "th-6",
      "th-9",
    ]);
    expect((await keys("SELECT action AS k FROM audit_log WHERE tenant_id = $1", "long")).length).toBe(6);
  });

  it("refuses unsafe values and returns to the global policy with null", async () => {
    await expect(setTenantRetention(db, "x", { auditDays: 7 })).rejects.toThrow(/30 to 3650/);
    await expect(setTenantRetention(db, "x", { threadDays: 0 })).rejects.toThrow(/1 to 3650/);
    await setTenantRetention(db, "x", { threadDays: 3 });
    await setTenantRetention(db, "x", { threadDays: null });
    expect(await getTenantRetention(db, "x")).toEqual({});
  });
});
