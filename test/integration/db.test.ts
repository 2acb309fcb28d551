import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimEvent, completeEvent, pruneEvents } from "../../src/db/events.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import type { Migration } from "../../src/db/migrate.ts";
import { migrations } from "../../src/db/migrations/index.ts";
import { testBackends } from "../helpers/memory.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(testBackends())("database on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, drop } = await backend.open());
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it("applies every migration once, records their ids, and is idempotent", async () => {
    const applied = await migrate(db);
    expect(applied).toEqual(migrations.map((m) => m.id).sort((a, b) => a - b));
    const rows = await db.query<{ id: number; name: string }>(
      "SELECT id, name FROM schema_migrations ORDER BY id",
    );
    expect(rows.rows.map((r) => Number(r.id))).toEqual(applied);
    expect(rows.rows.map((r) => r.name)).toEqual(
      [...migrations].sort((a, b) => a.id - b.id).map((m) => m.name),
    );
    expect(await migrate(db)).toEqual([]);
    expect((await db.query("SELECT id FROM schema_migrations")).rowCount).toBe(migrations.length);
    // The core tables exist and work.
    for (const table of ["processed_events", "sources", "documents", "thread_turns", "feedback", "answers"]) {
      const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      expect(Number(r.rows[0]!.n)).toBe(0);
    }
  });

  it("applies only new migrations later, and rolls back a failing one without recording it", async () => {
    const extra: Migration = {
      id: 10_001,
      name: "test_extra",
      sql: "CREATE TABLE test_extra (a integer);\n-- a comment\nINSERT INTO test_extra VALUES (1);",
    };
    expect(await migrate(db, [...migrations, extra])).toEqual([10_001]);
    expect((await db.query("SELECT a FROM test_extra")).rows).toEqual([{ a: 1 }]);

    const broken: Migration = {
      id: 10_002,
      name: "test_broken",
      sql: "CREATE TABLE test_broken (a integer);\nINSERT INTO no_such_table VALUES (1);",
    };
    await expect(migrate(db, [...migrations, extra, broken])).rejects.toThrow(/no_such_table/);
    const ids = (await db.query<{ id: number }>("SELECT id FROM schema_migrations")).rows.map((r) =>
      Number(r.id),
    );
    expect(ids).not.toContain(10_002);
    const tables = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'test_broken'");
    expect(tables.rowCount).toBe(0);

    const fixed: Migration = { ...broken, sql: "CREATE TABLE test_broken (a integer);" };
    expect(await migrate(db, [...migrations, extra, fixed])).toEqual([10_002]);
  });

  it("refuses two migrations with the same id", async () => {
    await expect(migrate(db, [...migrations, { id: 1, name: "again", sql: "SELECT 1;" }])).rejects.toThrow(
      /duplicate migration id 1/,
    );
  });

  it("claims an event once: first wins, duplicates are refused, completed events stay refused", async () => {
    const id = { platform: "slack", tenantId: "T1", key: "C1:1700000000.0001" };
    expect(await claimEvent(db, id)).toBe(true);
    expect(await claimEvent(db, id)).toBe(false);
    // Same key elsewhere is a different event.
    expect(await claimEvent(db, { ...id, tenantId: "T2" })).toBe(true);
    expect(await claimEvent(db, { ...id, platform: "teams" })).toBe(true);
    await completeEvent(db, id);
    await sleep(20);
    expect(await claimEvent(db, id, 0)).toBe(false);
    const row = await db.query<{ status: string }>(
      "SELECT status FROM processed_events WHERE platform = $1 AND tenant_id = $2 AND event_key = $3",
      [id.platform, id.tenantId, id.key],
    );
    expect(row.rows[0]!.status).toBe("done");
  });

  it("lets a stale claim be taken over exactly once", async () => {
    const id = { platform: "slack", tenantId: "T1", key: "C1:stale" };
    expect(await claimEvent(db, id)).toBe(true);
    expect(await claimEvent(db, id, 60_000)).toBe(false); // still fresh
    await sleep(30);
    expect(await claimEvent(db, id, 10)).toBe(true); // the first claimer is presumed dead
    expect(await claimEvent(db, id, 60_000)).toBe(false); // the takeover renewed the claim
  });

  it("claims concurrently exactly once", async () => {
    const id = { platform: "teams", tenantId: "T9", key: "race" };
    const results = await Promise.all(Array.from({ length: 8 }, () => claimEvent(db, id)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("prunes old event identities only", async () => {
    const id = { platform: "slack", tenantId: "T1", key: "old" };
    await claimEvent(db, id);
    await db.query(
      "UPDATE processed_events SET created_at = now() - interval '2 days' WHERE event_key = 'old'",
    );
    const before = (await db.query("SELECT 1 FROM processed_events")).rowCount;
    expect(await pruneEvents(db)).toBe(1);
    expect((await db.query("SELECT 1 FROM processed_events")).rowCount).toBe(before - 1);
  });

  it("rolls back a failed transaction", async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO settings (tenant_id, key, value) VALUES ('t', 'k', '1'::jsonb)");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect((await db.query("SELECT 1 FROM settings WHERE tenant_id = 't'")).rowCount).toBe(0);
  });
});

describe.runIf(testBackends().length > 1)("migrations on PostgreSQL from several replicas", () => {
  it("apply once when replicas start together", async () => {
    const pg = testBackends().find((b) => b.name === "PostgreSQL")!;
    const first = await pg.open();
    // A second connection pool on the same schema, as a second replica would have.
    const url = process.env.TEST_DATABASE_URL!;
    const schema = (await first.db.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]!.s;
    const { openPostgres } = await import("../../src/db/index.ts");
    const sep = url.includes("?") ? "&" : "?";
    const second = await openPostgres(
      `${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    );
    try {
      const [a, b] = await Promise.all([migrate(first.db), migrate(second)]);
      expect([...a, ...b].sort((x, y) => x - y)).toEqual(migrations.map((m) => m.id).sort((x, y) => x - y));
      expect((await first.db.query("SELECT id FROM schema_migrations")).rowCount).toBe(migrations.length);
    } finally {
      await second.close();
      await first.db.close();
      await first.drop();
    }
  });
});
