/**
 * The SQL of workflows (tables of migration 008): workflows and their versions, drafts waiting
 * for Confirm, runs and step logs. Works the same on PostgreSQL and PGlite.
 */
import type { Db, Queryable } from "../db/types.ts";
import { workflowRunsTotal } from "../observability/metrics.ts";
import { DraftStore, RunInputs } from "./inputs.ts";
import { parseDefinition, type WorkflowDefinition, type WorkflowOrigin } from "./definition.ts";
import {
  d,
  dn,
  json,
  nameKey,
  RUN_COLUMNS,
  type RunKind,
  type RunRow,
  type RunStatus,
  type StepLog,
  toRun,
  toWorkflow,
  WF_COLUMNS,
  type WorkflowRow,
  type WorkflowStatus,
} from "./rows.ts";

export { nameKey } from "./rows.ts";
export type { Draft, RunKind, RunRow, RunStatus, StepLog, WorkflowRow, WorkflowStatus } from "./rows.ts";

/** Repository of the workflow tables. */
export class WorkflowStore {
  /** Plans waiting for Confirm/Cancel. */
  readonly drafts: DraftStore;
  /** What runs read: changed documents, questions asked, sources. */
  readonly inputs: RunInputs;

  constructor(readonly db: Db) {
    this.drafts = new DraftStore(db);
    this.inputs = new RunInputs(db);
  }

  // --- workflows and versions ---

  /** A free name in the tenant: `name`, else `name (2)`, `name (3)`, … */
  async freeName(tx: Queryable, tenantId: string, name: string, exceptId?: string): Promise<string> {
    const r = await tx.query<{ name_key: string }>(
      `SELECT name_key FROM workflows WHERE tenant_id = $1 AND status <> 'deleted' AND ($2::bigint IS NULL OR id <> $2::bigint)`,
      [tenantId, exceptId ?? null],
    );
    const taken = new Set(r.rows.map((x) => x.name_key));
    if (!taken.has(nameKey(name))) return name;
    for (let i = 2; ; i++) if (!taken.has(nameKey(`${name} (${i})`))) return `${name} (${i})`;
  }

  /** Creates a workflow with version 1. @returns its id and the name it got. */
  async create(
    tx: Queryable,
    origin: WorkflowOrigin,
    definition: WorkflowDefinition,
    nextRunAt: Date | null,
  ): Promise<{ id: string; name: string }> {
    const name = await this.freeName(tx, origin.tenantId, definition.name);
    const r = await tx.query<{ id: string }>(
      `INSERT INTO workflows (tenant_id, name, name_key, platform, channel_id, thread_id, is_direct, owner_id, owner_email, next_run_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id::text AS id`,
      [
        origin.tenantId,
        name,
        nameKey(name),
        origin.platform,
        origin.channelId,
        origin.threadId ?? null,
        origin.isDirect,
        origin.ownerId,
        origin.ownerEmail ?? null,
        nextRunAt,
      ],
    );
    const id = String(r.rows[0]!.id);
    await tx.query(
      `INSERT INTO workflow_versions (workflow_id, version, definition, created_by, note) VALUES ($1::bigint, 1, $2::jsonb, $3, 'created')`,
      [id, JSON.stringify({ ...definition, name }), origin.ownerId],
    );
    return { id, name };
  }

  /** Adds a version and makes it active. @returns the new version number. */
  async addVersion(
    tx: Queryable,
    id: string,
    definition: WorkflowDefinition,
    by: string,
    note: string,
    nextRunAt: Date | null,
  ): Promise<number> {
    const r = await tx.query<{ v: number }>(
      `INSERT INTO workflow_versions (workflow_id, version, definition, created_by, note)
       SELECT $1::bigint, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4 FROM workflow_versions WHERE workflow_id = $1::bigint
       RETURNING version AS v`,
      [id, JSON.stringify(definition), by, note],
    );
    const version = Number(r.rows[0]!.v);
    await tx.query(
      `UPDATE workflows SET active_version = $2, name = $3, name_key = $4, next_run_at = CASE WHEN status = 'active' THEN $5::timestamptz ELSE next_run_at END,
         status = CASE WHEN status = 'finished' THEN 'active' ELSE status END, updated_at = now() WHERE id = $1::bigint`,
      [id, version, definition.name, nameKey(definition.name), nextRunAt],
    );
    return version;
  }

  /** Re-activates an existing version. @returns false when that version does not exist. */
  async activate(tx: Queryable, id: string, version: number, nextRunAt: Date | null): Promise<boolean> {
    const r = await tx.query<{ definition: unknown }>(
      "SELECT definition FROM workflow_versions WHERE workflow_id = $1::bigint AND version = $2",
      [id, version],
    );
    if (!r.rows[0]) return false;
    const def = parseDefinition(json(r.rows[0].definition));
    await tx.query(
      `UPDATE workflows SET active_version = $2, name = $3, name_key = $4,
         next_run_at = CASE WHEN status IN ('active', 'finished') THEN $5::timestamptz ELSE next_run_at END,
         status = CASE WHEN status = 'finished' AND $5::timestamptz IS NOT NULL THEN 'active' ELSE status END,
         updated_at = now() WHERE id = $1::bigint`,
      [id, version, def.name, nameKey(def.name), nextRunAt],
    );
    return true;
  }

  /** Every version of a workflow, newest first. */
  async versions(id: string): Promise<
    {
      version: number;
      definition: WorkflowDefinition;
      createdBy: string;
      note: string | null;
      createdAt: Date;
    }[]
  > {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT version, definition, created_by, note, created_at FROM workflow_versions WHERE workflow_id = $1::bigint ORDER BY version DESC`,
      [id],
    );
    return r.rows.map((x) => ({
      version: Number(x.version),
      definition: parseDefinition(json(x.definition)),
      createdBy: String(x.created_by),
      note: (x.note as string | null) ?? null,
      createdAt: d(x.created_at),
    }));
  }

  /** A workflow by id (any status). */
  async get(id: string, tx: Queryable = this.db): Promise<WorkflowRow | undefined> {
    const r = await tx.query<Record<string, unknown>>(
      `SELECT ${WF_COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.active_version
       WHERE w.id = $1::bigint`,
      [id],
    );
    return r.rows[0] ? toWorkflow(r.rows[0]) : undefined;
  }

  /** Workflows of a tenant that are not deleted, by name. */
  async list(tenantId: string): Promise<WorkflowRow[]> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT ${WF_COLUMNS} FROM workflows w JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.active_version
       WHERE w.tenant_id = $1 AND w.status <> 'deleted' ORDER BY w.name_key`,
      [tenantId],
    );
    return r.rows.map(toWorkflow);
  }

  /** Sets the state and next run time (pause, resume, delete, finish). */
  async setState(tx: Queryable, id: string, status: WorkflowStatus, nextRunAt: Date | null): Promise<void> {
    await tx.query(
      `UPDATE workflows SET status = $2, next_run_at = $3, updated_at = now(),
         name_key = CASE WHEN $2 = 'deleted' THEN name_key || ' #' || id::text ELSE name_key END
       WHERE id = $1::bigint`,
      [id, status, nextRunAt],
    );
  }

  /** Locks a workflow row for a change (`SELECT … FOR UPDATE`). */
  async lock(tx: Queryable, id: string): Promise<WorkflowRow | undefined> {
    await tx.query("SELECT id FROM workflows WHERE id = $1::bigint FOR UPDATE", [id]);
    return this.get(id, tx);
  }

  /**
   * Due workflows, locked for this transaction (`FOR UPDATE SKIP LOCKED`: two replicas never take
   * the same row at once; the other one sees it again only after its next run time moved).
   */
  async lockDue(tx: Queryable, now: Date, limit: number): Promise<WorkflowRow[]> {
    const r = await tx.query<{ id: string }>(
      `SELECT id::text AS id FROM workflows WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= $1
       ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    const out: WorkflowRow[] = [];
    for (const x of r.rows) {
      const w = await this.get(String(x.id), tx);
      if (w) out.push(w);
    }
    return out;
  }

  /** Moves a workflow's next run time (and marks a finished one-off). */
  async setNextRun(tx: Queryable, id: string, nextRunAt: Date | null): Promise<void> {
    await tx.query(
      `UPDATE workflows SET next_run_at = $2, status = CASE WHEN $2::timestamptz IS NULL THEN 'finished' ELSE status END,
         updated_at = now() WHERE id = $1::bigint`,
      [id, nextRunAt],
    );
  }

  /** The earliest next run time of any active workflow (the ticker sleeps until then). */
  async earliestNextRun(): Promise<Date | null> {
    const r = await this.db.query<{ t: unknown }>(
      "SELECT min(next_run_at) AS t FROM workflows WHERE status = 'active' AND next_run_at IS NOT NULL",
    );
    return dn(r.rows[0]?.t);
  }

  // --- runs ---

  /**
   * Records a run unless one with the same key exists (`ON CONFLICT DO NOTHING`): the claim on
   * (workflow, scheduled time) that makes N replicas fire once.
   * @returns the new run id, or undefined when another replica already has it.
   */
  async insertRun(
    tx: Queryable,
    input: {
      workflowId: string;
      tenantId: string;
      runKey: string;
      kind: RunKind;
      scheduledFor: Date;
      version: number;
      status?: RunStatus;
      requestedBy?: string;
      note?: string;
    },
  ): Promise<string | undefined> {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO workflow_runs (workflow_id, tenant_id, run_key, kind, scheduled_for, version, status, requested_by, note, finished_at)
       VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $7 = 'missed' THEN now() END)
       ON CONFLICT (workflow_id, run_key) DO NOTHING RETURNING id::text AS id`,
      [
        input.workflowId,
        input.tenantId,
        input.runKey,
        input.kind,
        input.scheduledFor,
        input.version,
        input.status ?? "queued",
        input.requestedBy ?? null,
        input.note ?? null,
      ],
    );
    return r.rows[0] ? String(r.rows[0].id) : undefined;
  }

  /** A run by id. */
  async getRun(id: string): Promise<RunRow | undefined> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE id = $1::bigint`,
      [id],
    );
    return r.rows[0] ? toRun(r.rows[0]) : undefined;
  }

  /** Marks a run started (attempt `attempt`). */
  async startRun(id: string, attempt: number): Promise<void> {
    await this.db.query(
      `UPDATE workflow_runs SET status = 'running', attempts = $2, started_at = coalesce(started_at, now()) WHERE id = $1::bigint`,
      [id, attempt],
    );
  }

  /** Records a run's outcome and copies it onto the workflow's "last run". */
  async finishRun(
    id: string,
    outcome: { status: RunStatus; error?: string; permanent?: boolean; note?: string },
  ): Promise<void> {
    const final = outcome.status !== "retrying";
    const r = await this.db.query<{ workflow_id: string; kind: string }>(
      `UPDATE workflow_runs SET status = $2, error = $3, permanent = $4, note = coalesce($5, note),
         finished_at = CASE WHEN $6::boolean THEN now() ELSE finished_at END
       WHERE id = $1::bigint RETURNING workflow_id::text AS workflow_id, kind`,
      [
        id,
        outcome.status,
        outcome.error?.slice(0, 2000) ?? null,
        outcome.permanent ?? null,
        outcome.note ?? null,
        final,
      ],
    );
    const row = r.rows[0];
    if (row) workflowRunsTotal.inc({ status: outcome.status });
    if (row && final && row.kind !== "dry_run") {
      await this.db.query(
        `UPDATE workflows SET last_run_at = (SELECT scheduled_for FROM workflow_runs WHERE id = $3::bigint),
           last_run_status = $2 WHERE id = $1::bigint`,
        [row.workflow_id, outcome.status, id],
      );
    }
  }

  /** Recent runs of a workflow, newest first. */
  async runs(workflowId: string, limit = 20): Promise<RunRow[]> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE workflow_id = $1::bigint ORDER BY workflow_runs.id DESC LIMIT $2`,
      [workflowId, limit],
    );
    return r.rows.map(toRun);
  }

  /** The latest failed (or still retrying) run of a workflow. */
  async lastProblemRun(workflowId: string): Promise<RunRow | undefined> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE workflow_id = $1::bigint AND status IN ('failed', 'retrying', 'missed')
       ORDER BY workflow_runs.id DESC LIMIT 1`,
      [workflowId],
    );
    return r.rows[0] ? toRun(r.rows[0]) : undefined;
  }

  /** Scheduled time of the latest successful real run before `before` (for "new since the last run"). */
  async lastSuccessBefore(workflowId: string, before: Date): Promise<Date | undefined> {
    const r = await this.db.query<{ t: unknown }>(
      `SELECT max(scheduled_for) AS t FROM workflow_runs WHERE workflow_id = $1::bigint AND status = 'succeeded'
         AND kind IN ('scheduled', 'late', 'manual') AND scheduled_for < $2`,
      [workflowId, before],
    );
    return dn(r.rows[0]?.t) ?? undefined;
  }

  /** Appends a step's log line. */
  async logStep(runId: string, log: StepLog): Promise<void> {
    await this.db.query(
      `INSERT INTO workflow_step_logs (run_id, attempt, step_path, step_type, input_summary, output_summary, error, duration_ms)
       VALUES ($1::bigint, $2, $3, $4, $5, $6, $7, $8)`,
      [
        runId,
        log.attempt,
        log.path,
        log.type,
        log.input.slice(0, 1000),
        log.output.slice(0, 1000),
        log.error?.slice(0, 2000) ?? null,
        Math.round(log.durationMs),
      ],
    );
  }

  /** A run's step logs in order. */
  async stepLogs(runId: string): Promise<StepLog[]> {
    const r = await this.db.query<Record<string, unknown>>(
      `SELECT attempt, step_path, step_type, input_summary, output_summary, error, duration_ms FROM workflow_step_logs
       WHERE run_id = $1::bigint ORDER BY id`,
      [runId],
    );
    return r.rows.map((x) => ({
      attempt: Number(x.attempt),
      path: String(x.step_path),
      type: String(x.step_type),
      input: String(x.input_summary),
      output: String(x.output_summary),
      error: (x.error as string | null) ?? null,
      durationMs: Number(x.duration_ms),
    }));
  }
}
