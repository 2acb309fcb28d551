import type { Db, Queryable } from "./types.ts";

/** How long Atom keeps each kind of record, in days (DESIGN.md, Storage; README "Data retention"). */
export interface RetentionPolicy {
  /**
   * Thread context (turns), stored answers and their feedback text, unshared `/atom` answers, and
   * the answer behind each Teams message.
   */
  threadDays: number;
  /** Identities of processed deliveries (the dedupe record of redelivered events) and finished jobs. */
  eventDays: number;
  /** Jobs that failed for good (kept longer for inspection). */
  deadJobDays: number;
  /** Finished workflow runs and their step logs. */
  runLogDays: number;
  /** Audit log entries. */
  auditDays: number;
}

/** Defaults: thread context 30 days, processed events 7, dead jobs 30, run logs 90, audit log 365. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  threadDays: 30,
  eventDays: 7,
  deadJobDays: 30,
  runLogDays: 90,
  auditDays: 365,
};

/** The parts of a policy a workspace may set for itself (settings key `retention`). */
export type TenantRetention = Partial<
  Pick<RetentionPolicy, "threadDays" | "eventDays" | "runLogDays" | "auditDays">
>;

/** Bounds of a workspace's own policy, days: below the minimum Atom could not dedupe or audit. */
export const TENANT_RETENTION_BOUNDS: Record<keyof TenantRetention, [number, number]> = {
  threadDays: [1, 3650],
  eventDays: [1, 3650],
  runLogDays: [1, 3650],
  auditDays: [30, 3650],
};

/** Settings key of a workspace's retention policy. */
const SETTINGS_KEY = "retention";

/** Rows deleted per table by one {@link applyRetention} run. */
export type RetentionReport = Record<string, number>;

/**
 * SQL of "older than the policy" for `alias.tenant_id`'s rows: the workspace's own value from
 * `settings` when set, else parameter `$param`. `field` is one of a fixed set of names (never
 * user input).
 */
function cutoff(alias: string, field: keyof TenantRetention, param: number): string {
  return `$1::timestamptz - make_interval(days => coalesce(
    (SELECT greatest(1, (s.value->>'${field}')::int) FROM settings s WHERE s.tenant_id = ${alias}.tenant_id AND s.key = '${SETTINGS_KEY}'),
    $${param}))`;
}

/**
 * Deletes every record older than its policy: the global `policy`, or the workspace's own
 * ({@link setTenantRetention}) where one is set. Idempotent; safe to run from several replicas at
 * once (plain DELETEs by age). Expired OAuth states and rate-limit windows go too.
 * @param opts.now the clock (tests pass a fake one); default the database's `now()`.
 * @returns rows deleted per table.
 */
export async function applyRetention(
  db: Db,
  policy: RetentionPolicy = DEFAULT_RETENTION,
  opts: { now?: Date } = {},
): Promise<RetentionReport> {
  const days = (n: number) => Math.max(0, n);
  const now = opts.now ?? (await db.query<{ now: Date }>("SELECT now() AS now")).rows[0]!.now;
  const thread = [now, days(policy.threadDays)];
  const statements: [string, string, unknown[]][] = [
    [
      "thread_turns",
      `DELETE FROM thread_turns t WHERE t.created_at < ${cutoff("t", "threadDays", 2)}`,
      thread,
    ],
    ["answers", `DELETE FROM answers t WHERE t.created_at < ${cutoff("t", "threadDays", 2)}`, thread],
    ["feedback", `DELETE FROM feedback t WHERE t.created_at < ${cutoff("t", "threadDays", 2)}`, thread],
    [
      "reply_shares",
      `DELETE FROM reply_shares t WHERE t.created_at < ${cutoff("t", "threadDays", 2)}`,
      thread,
    ],
    [
      // Which answer a Teams message carried: useless once the answer itself is gone.
      "teams_sent_messages",
      `DELETE FROM teams_sent_messages t WHERE t.created_at < ${cutoff("t", "threadDays", 2)}`,
      thread,
    ],
    [
      "processed_events",
      `DELETE FROM processed_events t WHERE t.created_at < ${cutoff("t", "eventDays", 2)}`,
      [now, days(policy.eventDays)],
    ],
    [
      "jobs",
      `DELETE FROM jobs t WHERE (t.status IN ('done', 'cancelled') AND t.finished_at < ${cutoff("t", "eventDays", 2)})
         OR (t.status = 'dead' AND t.finished_at < $1::timestamptz - make_interval(days => $3))`,
      [now, days(policy.eventDays), days(policy.deadJobDays)],
    ],
    [
      // Step logs go with their run (ON DELETE CASCADE).
      "workflow_runs",
      `DELETE FROM workflow_runs t WHERE t.finished_at IS NOT NULL AND t.finished_at < ${cutoff("t", "runLogDays", 2)}`,
      [now, days(policy.runLogDays)],
    ],
    [
      "audit_log",
      `DELETE FROM audit_log t WHERE t.created_at < ${cutoff("t", "auditDays", 2)}`,
      [now, days(policy.auditDays)],
    ],
    ["oauth_states", "DELETE FROM oauth_states WHERE expires_at < $1::timestamptz", [now]],
    [
      // Daily answer counts of the dashboard (no text): kept as long as the audit log.
      "answer_stats",
      `DELETE FROM answer_stats t WHERE t.day < ($1::timestamptz - make_interval(days => coalesce(
        (SELECT greatest(1, (s.value->>'auditDays')::int) FROM settings s WHERE s.tenant_id = t.tenant_id AND s.key = '${SETTINGS_KEY}'),
        $2)))::date`,
      [now, days(policy.auditDays)],
    ],
    [
      "rate_limit_hits",
      "DELETE FROM rate_limit_hits WHERE window_start < $1::timestamptz - interval '2 days'",
      [now],
    ],
  ];
  const report: RetentionReport = {};
  for (const [table, sql, params] of statements) {
    report[table] = (await db.query(sql, params)).rowCount;
  }
  return report;
}

/** A workspace's own retention settings (empty when it follows the global policy). */
export async function getTenantRetention(db: Queryable, tenantId: string): Promise<TenantRetention> {
  const r = await db.query<{ value: TenantRetention | string }>(
    "SELECT value FROM settings WHERE tenant_id = $1 AND key = $2",
    [tenantId, SETTINGS_KEY],
  );
  const v = r.rows[0]?.value;
  return v ? (typeof v === "string" ? (JSON.parse(v) as TenantRetention) : v) : {};
}

/**
 * Sets (merges) a workspace's own retention; a field set to `null` returns to the global policy.
 * @throws RangeError when a value is outside {@link TENANT_RETENTION_BOUNDS}.
 * @returns the workspace's settings after the change.
 */
export async function setTenantRetention(
  db: Queryable,
  tenantId: string,
  change: { [K in keyof TenantRetention]?: number | null },
): Promise<TenantRetention> {
  const next: TenantRetention = { ...(await getTenantRetention(db, tenantId)) };
  for (const [k, v] of Object.entries(change) as [keyof TenantRetention, number | null][]) {
    if (!(k in TENANT_RETENTION_BOUNDS)) throw new RangeError(`unknown retention setting ${k}`);
    if (v === null) {
      delete next[k];
      continue;
    }
    const [min, max] = TENANT_RETENTION_BOUNDS[k];
    if (!Number.isInteger(v) || v < min || v > max)
      throw new RangeError(`${k} must be a whole number of days from ${min} to ${max}`);
    next[k] = v;
  }
  await db.query(
    `INSERT INTO settings (tenant_id, key, value, updated_at) VALUES ($1, $2, $3::jsonb, now())
     ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [tenantId, SETTINGS_KEY, JSON.stringify(next)],
  );
  return next;
}
