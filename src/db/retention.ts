import type { Db } from "./types.ts";

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
}

/** Defaults: thread context 30 days, processed events 7 days, dead jobs 30 days. */
export const DEFAULT_RETENTION: RetentionPolicy = { threadDays: 30, eventDays: 7, deadJobDays: 30 };

/** Rows deleted per table by one {@link applyRetention} run. */
export type RetentionReport = Record<string, number>;

/**
 * Deletes every record older than its policy. Idempotent; safe to run from several replicas at
 * once (plain DELETEs by age). Expired OAuth states and share offers that were never used go too.
 * @returns rows deleted per table.
 */
export async function applyRetention(
  db: Db,
  policy: RetentionPolicy = DEFAULT_RETENTION,
): Promise<RetentionReport> {
  const days = (n: number) => Math.max(0, n);
  const statements: [string, string, unknown[]][] = [
    [
      "thread_turns",
      "DELETE FROM thread_turns WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.threadDays)],
    ],
    [
      "answers",
      "DELETE FROM answers WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.threadDays)],
    ],
    [
      "feedback",
      "DELETE FROM feedback WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.threadDays)],
    ],
    [
      "reply_shares",
      "DELETE FROM reply_shares WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.threadDays)],
    ],
    [
      // Which answer a Teams message carried: useless once the answer itself is gone.
      "teams_sent_messages",
      "DELETE FROM teams_sent_messages WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.threadDays)],
    ],
    [
      "processed_events",
      "DELETE FROM processed_events WHERE created_at < now() - make_interval(days => $1)",
      [days(policy.eventDays)],
    ],
    [
      "jobs",
      `DELETE FROM jobs WHERE (status IN ('done', 'cancelled') AND finished_at < now() - make_interval(days => $1))
         OR (status = 'dead' AND finished_at < now() - make_interval(days => $2))`,
      [days(policy.eventDays), days(policy.deadJobDays)],
    ],
    ["oauth_states", "DELETE FROM oauth_states WHERE expires_at < now()", []],
  ];
  const report: RetentionReport = {};
  for (const [table, sql, params] of statements) {
    report[table] = (await db.query(sql, params)).rowCount;
  }
  return report;
}
