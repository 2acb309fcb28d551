import { scrubSecrets } from "../observability/logger.ts";
import type { Logger } from "../observability/logger.ts";
import type { Db, Queryable } from "./types.ts";

/**
 * Audited actions (README "Audit log"). Dotted names: the part before the dot is the area.
 * Keys and tokens never go into an entry — only that one was set or removed.
 */
export type AuditAction =
  | "install"
  | "uninstall"
  | "connection.added"
  | "connection.removed"
  | "connection.broken"
  | "key.set"
  | "key.removed"
  | "settings.changed"
  | "workflow.created"
  | "workflow.edited"
  | "workflow.renamed"
  | "workflow.rolled_back"
  | "workflow.paused"
  | "workflow.resumed"
  | "workflow.deleted"
  | "admin.login"
  | "data.purged"
  | "notes.forgotten"
  | "retention.applied"
  | (string & {});

/** One entry to write: who (`actor`: a platform user id, `system`, or an admin e-mail), what, where. */
export interface AuditInput {
  tenantId: string;
  actor: string;
  action: AuditAction;
  /** `slack`, `teams`, `web`, `cli` or `system`. */
  platform?: string;
  /** Small facts about the action (names, counts, reasons) — never secrets or document text. */
  detail?: Record<string, unknown>;
}

/** A stored entry. */
export interface AuditEntry {
  id: string;
  tenantId: string;
  actor: string | null;
  action: string;
  platform: string | null;
  detail: Record<string, unknown>;
  createdAt: Date;
}

/** Keys whose values are dropped from an entry's detail whatever they hold. */
const SECRET_KEY = /token|secret|password|api[-_]?key|authorization|cookie|^key$|sealed|signature/i;

/** Copies `detail` with secret-named keys replaced and secret-shaped strings scrubbed (bounded size). */
export function cleanDetail(detail: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(detail)) {
    if (SECRET_KEY.test(k)) out[k] = "[redacted]";
    else if (typeof v === "string") out[k] = scrubSecrets(v).slice(0, 500);
    else if (v && typeof v === "object" && !Array.isArray(v) && depth < 2)
      out[k] = cleanDetail(v as Record<string, unknown>, depth + 1);
    else if (Array.isArray(v))
      out[k] = v.slice(0, 50).map((x) => (typeof x === "string" ? scrubSecrets(x) : x));
    else out[k] = v;
  }
  return out;
}

/**
 * Appends one audit entry. The table refuses updates (migration 011); only retention and a
 * workspace purge delete entries.
 */
export async function appendAudit(db: Queryable, entry: AuditInput): Promise<void> {
  await db.query(
    "INSERT INTO audit_log (tenant_id, actor, action, platform, detail) VALUES ($1, $2, $3, $4, $5::jsonb)",
    [
      entry.tenantId,
      entry.actor,
      entry.action,
      entry.platform ?? null,
      JSON.stringify(cleanDetail(entry.detail ?? {})),
    ],
  );
}

/** Filters of {@link listAudit}. All optional; entries come newest first. */
export interface AuditQuery {
  tenantId?: string;
  since?: Date;
  until?: Date;
  /** Exact action, or an area prefix ending in `.` (`workflow.`). */
  action?: string;
  actor?: string;
  platform?: string;
  /** Default 100, at most 10 000. */
  limit?: number;
  /** Keyset paging: only entries with a smaller id. */
  beforeId?: string;
}

/** Lists audit entries matching `q`, newest first (parameterised; no string-built filters). */
export async function listAudit(db: Db, q: AuditQuery = {}): Promise<AuditEntry[]> {
  const r = await db.query<{
    id: string | number;
    tenant_id: string;
    actor: string | null;
    action: string;
    platform: string | null;
    detail: Record<string, unknown> | string;
    created_at: Date | string;
  }>(
    `SELECT id::text AS id, tenant_id, actor, action, platform, detail, created_at FROM audit_log
     WHERE ($1::text IS NULL OR tenant_id = $1)
       AND ($2::timestamptz IS NULL OR created_at >= $2)
       AND ($3::timestamptz IS NULL OR created_at < $3)
       AND ($4::text IS NULL OR action = $4 OR (right($4, 1) = '.' AND left(action, length($4)) = $4))
       AND ($5::text IS NULL OR actor = $5)
       AND ($6::text IS NULL OR platform = $6)
       AND ($7::bigint IS NULL OR id < $7::bigint)
     ORDER BY created_at DESC, id DESC
     LIMIT $8`,
    [
      q.tenantId ?? null,
      q.since ?? null,
      q.until ?? null,
      q.action || null,
      q.actor || null,
      q.platform || null,
      q.beforeId ?? null,
      Math.min(Math.max(1, q.limit ?? 100), 10_000),
    ],
  );
  return r.rows.map((x) => ({
    id: String(x.id),
    tenantId: x.tenant_id,
    actor: x.actor,
    action: x.action,
    platform: x.platform,
    detail: typeof x.detail === "string" ? (JSON.parse(x.detail) as Record<string, unknown>) : x.detail,
    createdAt: new Date(x.created_at),
  }));
}

/** Entries per action over the window (dashboard). */
export async function countAuditByAction(
  db: Db,
  since: Date,
  tenantId?: string,
): Promise<{ action: string; count: number }[]> {
  const r = await db.query<{ action: string; n: number | string }>(
    `SELECT action, count(*)::int AS n FROM audit_log
     WHERE created_at >= $1 AND ($2::text IS NULL OR tenant_id = $2)
     GROUP BY action ORDER BY n DESC, action`,
    [since, tenantId ?? null],
  );
  return r.rows.map((x) => ({ action: x.action, count: Number(x.n) }));
}

/**
 * Records an audited action without ever failing the action itself: a failed insert is logged
 * (warn) and swallowed. Use this at every hook (installs, connections, workflows, purges…).
 */
export async function recordAudit(db: Db, logger: Logger, entry: AuditInput): Promise<void> {
  try {
    await appendAudit(db, entry);
  } catch (err) {
    logger.warn({ err, action: entry.action }, "audit log entry failed");
  }
}
