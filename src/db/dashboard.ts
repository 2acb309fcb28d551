import type { Db } from "./types.ts";

/** Counts one answer of `mode` for today (UTC) in `answer_stats` (the dashboard's chart). */
export async function countAnswer(db: Db, tenantId: string, mode: string): Promise<void> {
  await db.query(
    `INSERT INTO answer_stats (tenant_id, day, mode, answers) VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2, 1)
     ON CONFLICT (tenant_id, day, mode) DO UPDATE SET answers = answer_stats.answers + 1`,
    [tenantId, mode],
  );
}

/** Answers per day (`YYYY-MM-DD`) and mode over the last `days` days, oldest first. */
export async function answersPerDay(
  db: Db,
  tenantId: string,
  days: number,
): Promise<{ day: string; mode: string; answers: number }[]> {
  const r = await db.query<{ day: string; mode: string; answers: number }>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, mode, answers FROM answer_stats
     WHERE tenant_id = $1 AND day > (now() AT TIME ZONE 'UTC')::date - $2::int ORDER BY day, mode`,
    [tenantId, days],
  );
  return r.rows.map((x) => ({ day: x.day, mode: x.mode, answers: Number(x.answers) }));
}

/**
 * Memory size per day over the last `days` days: documents and passages indexed (last indexed)
 * that day, plus the totals before the window, so the chart can draw the running total.
 */
export async function memoryGrowth(
  db: Db,
  tenantId: string,
  days: number,
): Promise<{
  before: { documents: number; chunks: number };
  perDay: { day: string; documents: number; chunks: number }[];
}> {
  const r = await db.query<{ day: string | null; documents: number; chunks: number }>(
    `SELECT CASE WHEN indexed_at >= (now() AT TIME ZONE 'UTC')::date - $2::int
                 THEN to_char(indexed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') END AS day,
            count(*)::int AS documents, coalesce(sum(chunk_count), 0)::int AS chunks
     FROM documents WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1 NULLS FIRST`,
    [tenantId, days],
  );
  const before = { documents: 0, chunks: 0 };
  const perDay: { day: string; documents: number; chunks: number }[] = [];
  for (const x of r.rows) {
    if (x.day === null) {
      before.documents = Number(x.documents);
      before.chunks = Number(x.chunks);
    } else perDay.push({ day: x.day, documents: Number(x.documents), chunks: Number(x.chunks) });
  }
  return { before, perDay };
}

/** A workflow with its state and last run, for the dashboard. */
export interface WorkflowSummary {
  name: string;
  status: string;
  lastRunAt: Date | null;
  lastRunStatus: string | null;
  nextRunAt: Date | null;
  runs7d: number;
  failed7d: number;
}

/** The tenant's workflows (not deleted) with their last run and the runs of the last 7 days. */
export async function workflowSummaries(db: Db, tenantId: string, limit = 50): Promise<WorkflowSummary[]> {
  const r = await db.query<{
    name: string;
    status: string;
    last_run_at: Date | null;
    last_run_status: string | null;
    next_run_at: Date | null;
    runs: number;
    failed: number;
  }>(
    `SELECT w.name, w.status, w.last_run_at, w.last_run_status, w.next_run_at,
            count(r.id)::int AS runs, count(r.id) FILTER (WHERE r.status = 'failed')::int AS failed
     FROM workflows w
     LEFT JOIN workflow_runs r ON r.workflow_id = w.id AND r.created_at > now() - interval '7 days'
     WHERE w.tenant_id = $1 AND w.status <> 'deleted'
     GROUP BY w.id ORDER BY w.name LIMIT $2`,
    [tenantId, limit],
  );
  return r.rows.map((x) => ({
    name: x.name,
    status: x.status,
    lastRunAt: x.last_run_at ? new Date(x.last_run_at) : null,
    lastRunStatus: x.last_run_status,
    nextRunAt: x.next_run_at ? new Date(x.next_run_at) : null,
    runs7d: Number(x.runs),
    failed7d: Number(x.failed),
  }));
}

/** Whether an `admin.login` entry already exists for this session fingerprint (one entry per session). */
export async function adminLoginRecorded(db: Db, tenantId: string, session: string): Promise<boolean> {
  const r = await db.query(
    `SELECT 1 FROM audit_log WHERE tenant_id = $1 AND action = 'admin.login' AND detail->>'session' = $2
       AND created_at > now() - interval '2 hours' LIMIT 1`,
    [tenantId, session],
  );
  return r.rowCount > 0;
}
