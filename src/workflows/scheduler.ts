/**
 * The workflow scheduler. The schedule lives in Postgres (`workflows.next_run_at`); this ticker
 * only looks for due rows. For each due workflow, in one transaction:
 * 1. the row is locked (`FOR UPDATE SKIP LOCKED`), so only one replica handles it at a time;
 * 2. the fire times between its `next_run_at` and now are computed (croner, in its zone);
 * 3. a run is inserted per fire time with `ON CONFLICT (workflow_id, run_key) DO NOTHING` and its
 *    job enqueued (`workflow_run` queue, key = workflow + scheduled time) — the claim on
 *    (workflow, scheduled time) that makes N replicas fire once;
 * 4. `next_run_at` moves to the next fire time after now.
 * Fire times missed while every replica was down: the latest one runs once, late, with a
 * "delayed" note when it is inside the catch-up window and the workflow allows it; otherwise
 * (and for the older ones) the run is recorded as missed and the owner is told.
 */
import type { JobStore } from "../db/jobs.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import { formatDuration, formatWhen } from "./clock.ts";
import type { WorkflowStore } from "./repository.ts";
import { nextRun, runsBetween } from "./schedule.ts";

/** The job queue workflow runs wait in. */
export const WORKFLOW_QUEUE = "workflow_run";

/** Payload of a `workflow_run` job. */
export interface RunJobPayload {
  runId: string;
}

/** Settings of the scheduler. */
export interface SchedulerOptions {
  /** A run up to this late counts as on time (no "delayed" note), ms (default 60 000). */
  onTimeMs?: number;
  /** Runs missed by up to this much run once when Atom is back, ms (ATOM_WORKFLOW_CATCHUP_SECONDS). */
  catchUpMs: number;
  /** Longest sleep between looks for due workflows, ms (other replicas' changes are seen by then). */
  maxSleepMs?: number;
  /** The clock (tests use a fake one). */
  now?: () => Date;
  /** Attempts of a run before it fails for good (default 4). */
  maxAttempts?: number;
}

/** The job key of a run: workflow id and scheduled time (or a manual run's own key). */
export const runJobKey = (workflowId: string, runKey: string): string => `${workflowId}@${runKey}`;

/** Ticker + claims (see the module comment). */
export class WorkflowScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<number> | undefined;
  /** When expired plans were last deleted (hourly, by whichever replica gets there). */
  private prunedAt = 0;
  private readonly now: () => Date;

  constructor(
    private readonly deps: {
      db: Db;
      store: WorkflowStore;
      jobs: JobStore;
      logger: Logger;
      /** Called after runs were enqueued (wakes the local job worker). */
      onEnqueued?: () => void;
    },
    private readonly opts: SchedulerOptions,
  ) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Starts the ticker. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.wake();
  }

  /** Stops the ticker and waits for a tick in progress. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => {});
  }

  /** Looks for due workflows now (after a confirm, resume or edit in this process). */
  wake(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.loop(), 0);
    this.timer.unref?.();
  }

  private async loop(): Promise<void> {
    this.timer = undefined;
    let sleep = this.opts.maxSleepMs ?? 15_000;
    try {
      await this.tick();
      if (Date.now() - this.prunedAt > 3_600_000) {
        this.prunedAt = Date.now();
        await this.deps.store.drafts.prune();
      }
      const earliest = await this.deps.store.earliestNextRun();
      if (earliest) sleep = Math.min(sleep, Math.max(50, earliest.getTime() - this.now().getTime() + 20));
    } catch (err) {
      this.deps.logger.error({ err }, "workflow scheduler tick failed; trying again");
      sleep = Math.min(sleep, 5000);
    }
    if (!this.running || this.timer) return;
    this.timer = setTimeout(() => void this.loop(), sleep);
    this.timer.unref?.();
  }

  /**
   * One pass: handles every workflow due at the scheduler's "now" (batches of 20).
   * @returns the number of runs created (on time, late and missed).
   */
  async tick(): Promise<number> {
    if (this.ticking) return this.ticking;
    this.ticking = (async () => {
      let total = 0;
      for (;;) {
        const { created, handled } = await this.deps.db.transaction((tx) => this.claimBatch(tx));
        total += created;
        if (handled < 20) break;
      }
      if (total > 0) this.deps.onEnqueued?.();
      return total;
    })();
    try {
      return await this.ticking;
    } finally {
      this.ticking = undefined;
    }
  }

  private async claimBatch(
    tx: Parameters<Parameters<Db["transaction"]>[0]>[0],
  ): Promise<{ created: number; handled: number }> {
    const { store, jobs } = this.deps;
    const now = this.now();
    const due = await store.lockDue(tx, now, 20);
    let created = 0;
    for (const wf of due) {
      const def = wf.definition;
      const from = wf.nextRunAt!;
      let fires: Date[];
      try {
        fires = runsBetween(def.trigger, from, now, 100);
      } catch (err) {
        // A schedule that cannot be computed must not block the others: pause it and say why.
        this.deps.logger.error(
          { err, workflowId: wf.id },
          "workflow schedule cannot be computed; workflow paused",
        );
        await store.setState(tx, wf.id, "paused", null);
        continue;
      }
      const onTime = this.opts.onTimeMs ?? 60_000;
      const latest = fires.at(-1);
      const enqueue = async (runId: string, runKey: string) => {
        await jobs.enqueue<RunJobPayload>(
          {
            queue: WORKFLOW_QUEUE,
            tenantId: wf.tenantId,
            key: runJobKey(wf.id, runKey),
            payload: { runId },
            maxAttempts: this.opts.maxAttempts ?? 4,
          },
          tx,
        );
      };
      for (const at of fires) {
        const lateBy = now.getTime() - at.getTime();
        const isLatest = at === latest;
        const runKey = at.toISOString();
        let kind: "scheduled" | "late" | "missed" = "scheduled";
        let note: string | undefined;
        if (lateBy > onTime) {
          if (isLatest && def.onMissed === "run_late" && lateBy <= this.opts.catchUpMs) {
            kind = "late";
            note = `Delayed: this run was due at ${formatWhen(at, def.trigger.tz, now)} and starts ${formatDuration(lateBy)} late because Atom was not running then.`;
          } else {
            kind = "missed";
            note =
              def.onMissed === "skip"
                ? `Missed at ${formatWhen(at, def.trigger.tz, now)} while Atom was not running; this workflow skips missed runs.`
                : `Missed at ${formatWhen(at, def.trigger.tz, now)} while Atom was not running; it was more than ${formatDuration(this.opts.catchUpMs)} ago, so it was not run late.`;
          }
        }
        const runId = await store.insertRun(tx, {
          workflowId: wf.id,
          tenantId: wf.tenantId,
          runKey,
          kind,
          scheduledFor: at,
          version: wf.activeVersion,
          status: kind === "missed" ? "missed" : "queued",
          note,
        });
        if (!runId) continue;
        created += 1;
        // A missed run's job only tells the owner; the newest missed one speaks for older ones.
        if (kind !== "missed" || isLatest)
          await enqueue(runId, kind === "missed" ? `missed:${runKey}` : runKey);
      }
      const next = nextRun(def.trigger, latest && latest.getTime() > now.getTime() ? latest : now);
      await store.setNextRun(tx, wf.id, next);
      this.deps.logger.debug(
        { workflowId: wf.id, fires: fires.length, next: next?.toISOString() ?? null },
        "workflow due: runs claimed",
      );
    }
    return { created, handled: due.length };
  }
}
