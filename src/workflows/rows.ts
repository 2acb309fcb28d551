/**
 * Row shapes of the workflow tables (migration 008) and their mapping from SQL results.
 */
import { parseDefinition, type WorkflowDefinition, type WorkflowOrigin } from "./definition.ts";

export type WorkflowStatus = "active" | "paused" | "finished" | "deleted";
export type RunKind = "scheduled" | "late" | "manual" | "dry_run" | "missed";
export type RunStatus = "queued" | "running" | "retrying" | "succeeded" | "failed" | "skipped" | "missed";

/** A workflow row with its active definition. */
export interface WorkflowRow {
  id: string;
  tenantId: string;
  name: string;
  origin: WorkflowOrigin;
  status: WorkflowStatus;
  activeVersion: number;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastRunStatus: string | null;
  definition: WorkflowDefinition;
  createdAt: Date;
}

/** One run. */
export interface RunRow {
  id: string;
  workflowId: string;
  tenantId: string;
  kind: RunKind;
  scheduledFor: Date;
  version: number;
  status: RunStatus;
  requestedBy: string | null;
  note: string | null;
  attempts: number;
  error: string | null;
  permanent: boolean | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** One step's log line. */
export interface StepLog {
  attempt: number;
  path: string;
  type: string;
  input: string;
  output: string;
  error: string | null;
  durationMs: number;
}

/** A plan waiting for Confirm/Cancel. */
export interface Draft {
  id: string;
  tenantId: string;
  workflowId: string | null;
  ownerId: string;
  origin: WorkflowOrigin;
  definition: WorkflowDefinition;
  status: "pending" | "confirmed" | "cancelled";
  expiresAt: Date;
}

/** A timestamp column as a Date. */
export const d = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
/** A nullable timestamp column. */
export const dn = (v: unknown): Date | null => (v === null || v === undefined ? null : d(v));
/** A json/jsonb column (PGlite may hand back text). */
export const json = <T>(v: unknown): T => (typeof v === "string" ? (JSON.parse(v) as T) : (v as T));

/** The lookup key of a name: lower case, single spaces. */
export const nameKey = (name: string): string => name.trim().replace(/\s+/g, " ").toLowerCase();

/** Columns of a workflow joined with its active version (`w`, `v`). */
export const WF_COLUMNS = `w.id::text AS id, w.tenant_id, w.name, w.platform, w.channel_id, w.thread_id, w.is_direct,
  w.owner_id, w.owner_email, w.status, w.active_version, w.next_run_at, w.last_run_at, w.last_run_status,
  w.created_at, v.definition`;

/** Maps a workflow row (with its active definition). */
export function toWorkflow(r: Record<string, unknown>): WorkflowRow {
  return {
    id: String(r.id),
    tenantId: String(r.tenant_id),
    name: String(r.name),
    origin: {
      platform: r.platform as WorkflowOrigin["platform"],
      tenantId: String(r.tenant_id),
      channelId: String(r.channel_id),
      threadId: (r.thread_id as string | null) ?? undefined,
      ownerId: String(r.owner_id),
      ownerEmail: (r.owner_email as string | null) ?? undefined,
      isDirect: Boolean(r.is_direct),
    },
    status: r.status as WorkflowStatus,
    activeVersion: Number(r.active_version),
    nextRunAt: dn(r.next_run_at),
    lastRunAt: dn(r.last_run_at),
    lastRunStatus: (r.last_run_status as string | null) ?? null,
    definition: parseDefinition(json(r.definition)),
    createdAt: d(r.created_at),
  };
}

/** Maps a run row. */
export function toRun(r: Record<string, unknown>): RunRow {
  return {
    id: String(r.id),
    workflowId: String(r.workflow_id),
    tenantId: String(r.tenant_id),
    kind: r.kind as RunKind,
    scheduledFor: d(r.scheduled_for),
    version: Number(r.version),
    status: r.status as RunStatus,
    requestedBy: (r.requested_by as string | null) ?? null,
    note: (r.note as string | null) ?? null,
    attempts: Number(r.attempts),
    error: (r.error as string | null) ?? null,
    permanent: (r.permanent as boolean | null) ?? null,
    startedAt: dn(r.started_at),
    finishedAt: dn(r.finished_at),
  };
}

/** Columns of a run. */
export const RUN_COLUMNS = `id::text AS id, workflow_id::text AS workflow_id, tenant_id, kind, scheduled_for, version,
  status, requested_by, note, attempts, error, permanent, started_at, finished_at`;
