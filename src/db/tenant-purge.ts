import type { Db } from "./types.ts";

/** Tables a workspace purge keeps: the audit log is the record of the purge (removed by its retention). */
const KEPT = new Set(["audit_log", "schema_migrations"]);

/**
 * Deletes every row of `tenantId` from every table of the current schema that has a `tenant_id`
 * column (found in `information_schema`, so tables added later — keys, settings, workflows — are
 * covered without a list to keep in step), except the audit log. Child rows without a tenant
 * column go with their parent (ON DELETE CASCADE: workflow versions, step logs).
 * A running job is kept when it is `keepJobId` (the job doing the purge).
 * @returns rows deleted per table; tables that failed are listed in `failed` and the rest still go.
 */
export async function purgeTenantRows(
  db: Db,
  tenantId: string,
  opts: { keepJobId?: string } = {},
): Promise<{ deleted: Record<string, number>; failed: string[] }> {
  const tables = (
    await db.query<{ table_name: string }>(
      `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
       WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
       ORDER BY c.table_name`,
    )
  ).rows
    .map((r) => r.table_name)
    .filter((t) => !KEPT.has(t) && /^[a-z_][a-z0-9_]*$/.test(t));
  const deleted: Record<string, number> = {};
  const failed: string[] = [];
  for (const table of tables) {
    try {
      const r =
        table === "jobs"
          ? await db.query("DELETE FROM jobs WHERE tenant_id = $1 AND ($2::text IS NULL OR id::text <> $2)", [
              tenantId,
              opts.keepJobId ?? null,
            ])
          : await db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]);
      deleted[table] = r.rowCount;
    } catch {
      failed.push(table);
    }
  }
  return { deleted, failed };
}

/** Every table (except the audit log) still holding rows of `tenantId`, with counts (tests, checks). */
export async function tenantRowsLeft(db: Db, tenantId: string): Promise<Record<string, number>> {
  const tables = (
    await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_name = 'tenant_id' ORDER BY table_name`,
    )
  ).rows.map((r) => r.table_name);
  const left: Record<string, number> = {};
  for (const t of tables) {
    if (!/^[a-z_][a-z0-9_]*$/.test(t)) continue;
    const n = Number(
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} WHERE tenant_id = $1`, [tenantId]))
        .rows[0]?.n,
    );
    if (n > 0) left[t] = n;
  }
  return left;
}
