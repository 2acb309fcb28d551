import { applyRetention, type RetentionPolicy } from "../db/retention.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { JobWorker } from "./worker.ts";

/** The queue of periodic housekeeping (retention). */
export const MAINTENANCE_QUEUE = "maintenance";

/**
 * Schedules retention as a durable job once per `everyMs` window: every replica offers the job
 * for the current window (`retention:<window start>`), the unique job key lets exactly one of them
 * run it. Returns a function that stops offering.
 */
export function scheduleRetention(deps: {
  db: Db;
  jobs: JobWorker;
  logger: Logger;
  policy: RetentionPolicy;
  /** Window length, ms (default one hour). */
  everyMs?: number;
}): () => void {
  const everyMs = deps.everyMs ?? 3_600_000;
  if (!deps.jobs.handles(MAINTENANCE_QUEUE)) {
    deps.jobs.register(
      MAINTENANCE_QUEUE,
      async () => {
        const report = await applyRetention(deps.db, deps.policy);
        const deleted = Object.values(report).reduce((a, b) => a + b, 0);
        if (deleted > 0) deps.logger.info({ report }, "retention removed expired records");
        return report;
      },
      { concurrency: 1 },
    );
  }
  const offer = () => {
    const window = Math.floor(Date.now() / everyMs) * everyMs;
    deps.jobs
      .enqueue({
        queue: MAINTENANCE_QUEUE,
        tenantId: "*",
        key: `retention:${new Date(window).toISOString()}`,
        payload: {},
        maxAttempts: 3,
      })
      .catch((err: unknown) => deps.logger.warn({ err }, "could not schedule retention"));
  };
  offer();
  // Offered several times per window so a replica that starts mid-window still covers it.
  const timer = setInterval(offer, Math.max(1000, Math.floor(everyMs / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
