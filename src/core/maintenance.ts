import { recordAudit } from "../db/audit.ts";
import { recordMaintenanceRun } from "../db/maintenance-runs.ts";
import { applyRetention, type RetentionPolicy } from "../db/retention.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { JobWorker } from "./worker.ts";

/** The queue of periodic housekeeping (retention, LanceDB maintenance). */
export const MAINTENANCE_QUEUE = "maintenance";

/** The LanceDB side of maintenance (memory's ChunkStore). */
export interface TableMaintainer {
  /** Compacts, refreshes indexes, removes old versions; returns what it did. */
  maintain(): Promise<Record<string, number>>;
}

/** Payload of a maintenance job: which task. */
interface MaintenancePayload {
  task?: "retention" | "lancedb";
}

/**
 * Schedules maintenance as durable jobs once per `everyMs` window: retention (and, with
 * `table`, LanceDB compaction/index refresh/cleanup of old versions). Every replica offers the
 * jobs for the current window (`retention:<window start>`, `lancedb:<window start>`); the unique
 * job key lets exactly one of them run each. Each run is recorded in `maintenance_runs` (shown by
 * `status` and the dashboard); a retention run that deleted rows is audit-logged as a data purge.
 * Returns a function that stops offering.
 */
export function scheduleRetention(deps: {
  db: Db;
  jobs: JobWorker;
  logger: Logger;
  policy: RetentionPolicy;
  /** Window length, ms (default one hour). */
  everyMs?: number;
  /** LanceDB maintenance; skipped when absent. */
  table?: TableMaintainer;
  /** Window length of LanceDB maintenance, ms (default six hours). */
  tableEveryMs?: number;
}): () => void {
  const everyMs = deps.everyMs ?? 3_600_000;
  const tableEveryMs = deps.tableEveryMs ?? 6 * 3_600_000;
  if (!deps.jobs.handles(MAINTENANCE_QUEUE)) {
    deps.jobs.register<MaintenancePayload>(
      MAINTENANCE_QUEUE,
      async (job) => {
        const task = job.payload.task ?? "retention";
        const startedAt = new Date();
        try {
          const detail = task === "lancedb" ? await deps.table!.maintain() : await retention(deps);
          await recordMaintenanceRun(deps.db, { task, startedAt, ok: true, detail });
          return detail;
        } catch (err) {
          const error = (err as Error)?.message ?? String(err);
          await recordMaintenanceRun(deps.db, { task, startedAt, ok: false, detail: { error } }).catch(
            () => {},
          );
          throw err;
        }
      },
      { concurrency: 1, leaseMs: 600_000 },
    );
  }
  const offer = (task: "retention" | "lancedb", ms: number) => {
    const window = Math.floor(Date.now() / ms) * ms;
    deps.jobs
      .enqueue<MaintenancePayload>({
        queue: MAINTENANCE_QUEUE,
        tenantId: "*",
        key: `${task}:${new Date(window).toISOString()}`,
        payload: { task },
        maxAttempts: 3,
      })
      .catch((err: unknown) => deps.logger.warn({ err, task }, "could not schedule maintenance"));
  };
  const offerAll = () => {
    offer("retention", everyMs);
    if (deps.table) offer("lancedb", tableEveryMs);
  };
  offerAll();
  // Offered several times per window so a replica that starts mid-window still covers it.
  const timer = setInterval(offerAll, Math.max(1000, Math.floor(Math.min(everyMs, tableEveryMs) / 4)));
  timer.unref();
  return () => clearInterval(timer);
}

/** One retention run: deletes what is past its policy and audit-logs what went. */
async function retention(deps: { db: Db; logger: Logger; policy: RetentionPolicy }) {
  const report = await applyRetention(deps.db, deps.policy);
  const deleted = Object.values(report).reduce((a, b) => a + b, 0);
  if (deleted > 0) {
    deps.logger.info({ report }, "retention removed expired records");
    await recordAudit(deps.db, deps.logger, {
      tenantId: "*",
      actor: "system",
      action: "retention.applied",
      platform: "system",
      detail: Object.fromEntries(Object.entries(report).filter(([, n]) => n > 0)),
    });
  }
  return report;
}
