import type { Db } from "./types.ts";

/** The last run of one maintenance task (`retention`, `lancedb`). */
export interface MaintenanceRun {
  task: string;
  startedAt: Date;
  finishedAt: Date;
  ok: boolean;
  /** What it did (rows deleted per table; fragments compacted, versions and bytes removed) or the error. */
  detail: Record<string, unknown>;
}

/** Records the latest run of `task` (one row per task, replaced each run). */
export async function recordMaintenanceRun(db: Db, run: Omit<MaintenanceRun, "finishedAt">): Promise<void> {
  await db.query(
    `INSERT INTO maintenance_runs (task, started_at, finished_at, ok, detail) VALUES ($1, $2, now(), $3, $4::jsonb)
     ON CONFLICT (task) DO UPDATE SET started_at = EXCLUDED.started_at, finished_at = now(), ok = EXCLUDED.ok, detail = EXCLUDED.detail`,
    [run.task, run.startedAt, run.ok, JSON.stringify(run.detail)],
  );
}

/** The latest run of every maintenance task, by task name. */
export async function lastMaintenanceRuns(db: Db): Promise<MaintenanceRun[]> {
  const r = await db.query<{
    task: string;
    started_at: Date;
    finished_at: Date;
    ok: boolean;
    detail: Record<string, unknown> | string;
  }>("SELECT task, started_at, finished_at, ok, detail FROM maintenance_runs ORDER BY task");
  return r.rows.map((x) => ({
    task: x.task,
    startedAt: new Date(x.started_at),
    finishedAt: new Date(x.finished_at),
    ok: x.ok,
    detail: typeof x.detail === "string" ? (JSON.parse(x.detail) as Record<string, unknown>) : x.detail,
  }));
}
