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

/** Documents and passages of a tenant: per source, and per day indexed for the growth chart. */
export interface DocumentTotals {
  /** Per source id. */
  perSource: Map<string, { documents: number; chunks: number }>;
  /** Everything last indexed before the window (the chart's starting total). */
  before: { documents: number; chunks: number };
  /** Documents and passages last indexed each day (`YYYY-MM-DD`, UTC) of the window, oldest first. */
  perDay: { day: string; documents: number; chunks: number }[];
}

/**
 * The tenant's documents counted once for both the sources table and the memory growth chart
 * (one pass over `documents`): per source, before the last `days` days, and per day within them.
 */
export async function documentTotals(db: Db, tenantId: string, days: number): Promise<DocumentTotals> {
  const r = await db.query<{ source_id: string; day: string | null; documents: number; chunks: number }>(
    // Days are formatted once per group, not once per document.
    `SELECT source_id, to_char(d, 'YYYY-MM-DD') AS day, documents, chunks FROM (
       SELECT source_id,
              CASE WHEN indexed_at >= (now() AT TIME ZONE 'UTC')::date - $2::int
                   THEN (indexed_at AT TIME ZONE 'UTC')::date END AS d,
              count(*)::int AS documents, coalesce(sum(chunk_count), 0)::int AS chunks
       FROM documents WHERE tenant_id = $1 GROUP BY 1, 2
     ) g`,
    [tenantId, days],
  );
  const perSource = new Map<string, { documents: number; chunks: number }>();
  const before = { documents: 0, chunks: 0 };
  const byDay = new Map<string, { documents: number; chunks: number }>();
  for (const x of r.rows) {
    const documents = Number(x.documents);
    const chunks = Number(x.chunks);
    const s = perSource.get(x.source_id) ?? { documents: 0, chunks: 0 };
    perSource.set(x.source_id, { documents: s.documents + documents, chunks: s.chunks + chunks });
    const bucket = x.day === null ? before : (byDay.get(x.day) ?? { documents: 0, chunks: 0 });
    bucket.documents += documents;
    bucket.chunks += chunks;
    if (x.day !== null) byDay.set(x.day, bucket);
  }
  const perDay = [...byDay.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([day, v]) => ({ day, ...v }));
  return { perSource, before, perDay };
}

/** A source's sync state (read live for the dashboard; counts come from {@link documentTotals}). */
export interface SourceSync {
  sourceId: string;
  kind: string;
  label: string;
  lastSyncAt: Date | null;
  lastStatus: string | null;
  lastError: string | null;
}

/** The tenant's sources and their last sync, without touching `documents` (cheap enough for every view). */
export async function sourceSyncStates(db: Db, tenantId: string): Promise<SourceSync[]> {
  const r = await db.query<{
    source_id: string;
    kind: string;
    label: string;
    last_sync_at: Date | null;
    last_status: string | null;
    last_error: string | null;
  }>(
    `SELECT source_id, kind, label, last_sync_at, last_status, last_error
     FROM sources WHERE tenant_id = $1 ORDER BY source_id LIMIT 200`,
    [tenantId],
  );
  return r.rows.map((x) => ({
    sourceId: x.source_id,
    kind: x.kind,
    label: x.label,
    lastSyncAt: x.last_sync_at ? new Date(x.last_sync_at) : null,
    lastStatus: x.last_status,
    lastError: x.last_error,
  }));
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
    // Runs of the last 7 days per workflow through the (workflow_id, created_at) index (migration 14).
    `SELECT w.name, w.status, w.last_run_at, w.last_run_status, w.next_run_at, r.runs, r.failed
     FROM workflows w
     CROSS JOIN LATERAL (
       SELECT count(*)::int AS runs, count(*) FILTER (WHERE status = 'failed')::int AS failed
       FROM workflow_runs WHERE workflow_id = w.id AND created_at > now() - interval '7 days'
     ) r
     WHERE w.tenant_id = $1 AND w.status <> 'deleted'
     ORDER BY w.name LIMIT $2`,
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
