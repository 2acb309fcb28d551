import { randomUUID } from "node:crypto";
import os from "node:os";
import type { EnqueueInput, Job, JobStore } from "../db/jobs.ts";
import type { Logger } from "../observability/logger.ts";
import { jobSeconds, jobsFinishedTotal } from "../observability/metrics.ts";

/** Thrown by a handler for a failure that another attempt cannot fix: the job goes dead at once. */
export class PermanentJobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermanentJobError";
  }
}

/** Thrown by a handler that must wait before trying again (e.g. a 429 with `Retry-After`). */
export class RetryJobError extends Error {
  constructor(
    message: string,
    /** Wait before the next attempt, ms. */
    readonly delayMs: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RetryJobError";
  }
}

/** What a handler gets besides the job. */
export interface JobContext {
  /**
   * Aborted when this worker lost the job's lease (another worker took it over) or is shutting
   * down: stop early, write nothing more.
   */
  signal: AbortSignal;
}

/** Runs one job; its resolved value is stored as the job's result. Throws to fail the attempt. */
export type JobHandler<P = unknown> = (job: Job<P>, ctx: JobContext) => Promise<unknown>;

/** Per-queue settings. */
export interface QueueOptions {
  /** Jobs of this queue run at once in this process (default 4). */
  concurrency?: number;
  /** Lease per claim, renewed while the handler runs, ms (default 60 000). */
  leaseMs?: number;
  /** Retry backoff: `minMs · 2^(attempt-1)` with jitter, capped at `maxMs` (default 1 s … 5 min). */
  backoff?: { minMs: number; maxMs: number };
}

/** Settings of a worker. */
export interface JobWorkerOptions {
  logger: Logger;
  /** Identifies this process in `locked_by` (default host:pid:random). */
  workerId?: string;
  /** How often due jobs are looked for when nothing woke the worker, ms (default 1000). */
  pollMs?: number;
  /** How long {@link JobWorker.stop} lets running jobs finish before handing them back, ms (default 10 000). */
  shutdownGraceMs?: number;
}

interface Registered {
  handler: JobHandler<unknown>;
  concurrency: number;
  leaseMs: number;
  backoff: { minMs: number; maxMs: number };
  running: number;
}

/**
 * The core's durable job worker (DESIGN.md, "Ack fast, work after — durably"). Claims due jobs
 * of every registered queue from Postgres, runs their handlers with bounded concurrency per
 * queue, renews leases while they run, and records the outcome:
 * - success → `done` (with the handler's result);
 * - {@link PermanentJobError}, or the last allowed attempt → `dead` with the reason;
 * - {@link RetryJobError} → queued again after its delay; any other error → queued again after an
 *   exponential backoff with jitter.
 * A job whose worker died is taken over by any worker once its lease expires. Enqueueing through
 * {@link JobWorker.enqueue} wakes this worker at once; jobs enqueued elsewhere are found by polling.
 */
export class JobWorker {
  readonly workerId: string;
  private readonly queues = new Map<string, Registered>();
  private readonly inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private started = false;
  private stopping = false;
  private readonly pollMs: number;
  private failures = 0;

  constructor(
    readonly store: JobStore,
    private readonly opts: JobWorkerOptions,
  ) {
    this.workerId = opts.workerId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.pollMs = opts.pollMs ?? 1000;
  }

  /** Registers the handler of a queue (before or after {@link start}). */
  register<P>(queue: string, handler: JobHandler<P>, options: QueueOptions = {}): void {
    if (this.queues.has(queue)) throw new Error(`queue ${queue} already has a handler`);
    this.queues.set(queue, {
      handler: handler as JobHandler<unknown>,
      concurrency: Math.max(1, options.concurrency ?? 4),
      leaseMs: Math.max(1000, options.leaseMs ?? 60_000),
      backoff: options.backoff ?? { minMs: 1000, maxMs: 300_000 },
      running: 0,
    });
    this.wake();
  }

  /** Whether a handler is registered for `queue`. */
  handles(queue: string): boolean {
    return this.queues.has(queue);
  }

  /**
   * Enqueues a job (a duplicate key is ignored) and wakes this worker.
   * @returns `created: false` when a job with that identity already exists.
   */
  async enqueue<P>(input: EnqueueInput<P>): Promise<{ created: boolean; id?: string }> {
    const out = await this.store.enqueue(input);
    if (out.created) this.wake();
    return out;
  }

  /** Starts claiming jobs. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.wake();
  }

  /** Looks for due jobs now (e.g. after an enqueue in this process). */
  wake(): void {
    if (!this.started || this.stopping) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    void this.tick();
  }

  /**
   * Stops claiming, lets running jobs finish for `shutdownGraceMs`, then aborts the rest and hands
   * them back to the queue (they run again at once on another worker, without counting an attempt).
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const running = [...this.inFlight.values()];
    const grace = this.opts.shutdownGraceMs ?? 10_000;
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((r) => r.done)),
      new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, grace);
      }),
    ]);
    clearTimeout(graceTimer);
    for (const r of this.inFlight.values()) r.abort.abort(new Error("worker shutting down"));
    // A handler that ignores its abort signal (e.g. stuck in a slow network call) does not hold
    // the shutdown up for longer than another grace period: its lease expires and another
    // worker takes the job over.
    await Promise.race([
      Promise.all([...this.inFlight.values()].map((r) => r.done)),
      new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, grace);
        graceTimer.unref?.();
      }),
    ]);
    clearTimeout(graceTimer);
    if (this.inFlight.size > 0) {
      this.opts.logger.warn(
        { running: this.inFlight.size },
        "jobs still running at shutdown; their leases will expire",
      );
    }
    this.started = false;
  }

  /**
   * Resolves when no job of `queues` (default: every registered queue) is due or running — the
   * drain signal tests and one-shot commands wait on. Jobs scheduled for later (a retry after
   * backoff) do not count.
   * @throws Error after `timeoutMs` (default 30 000) with the number still pending.
   */
  async drain(opts: { queues?: string[]; timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    const queues = opts.queues ?? [...this.queues.keys()];
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    const interval = opts.intervalMs ?? 25;
    for (;;) {
      const local = [...this.inFlight.keys()].length;
      const pending = await this.store.pending(queues, true);
      if (pending === 0 && local === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`jobs still pending after ${opts.timeoutMs ?? 30_000} ms: ${pending}`);
      }
      this.wake();
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  private schedule(ms: number): void {
    if (!this.started || this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, ms);
    this.timer.unref?.();
  }

  /** One pass: claim as many due jobs as each queue has free slots, start them. */
  private async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.again = false;
        for (const [queue, q] of this.queues) {
          if (this.stopping) break;
          const free = q.concurrency - q.running;
          if (free <= 0) continue;
          const jobs = await this.store.claim(queue, this.workerId, free, q.leaseMs);
          for (const job of jobs) this.run(queue, q, job);
        }
      } while (this.again && !this.stopping);
      this.failures = 0;
      this.schedule(this.pollMs);
    } catch (err) {
      this.failures += 1;
      const retryIn = Math.min(30_000, this.pollMs * 2 ** Math.min(this.failures, 5));
      this.opts.logger.error({ err, retryIn }, "claiming jobs failed; retrying");
      this.schedule(retryIn);
    } finally {
      this.ticking = false;
    }
  }

  /** Runs one claimed job to its outcome (never throws). */
  private run(queue: string, q: Registered, job: Job<unknown>): void {
    q.running += 1;
    const abort = new AbortController();
    const log = this.opts.logger.child({ queue, jobId: job.id, attempt: job.attempts });
    const started = Date.now();
    const entry = { abort, done: Promise.resolve() };
    this.inFlight.set(job.id, entry);
    entry.done = (async () => {
      let outcome = "done";
      const heartbeat = setInterval(
        () => {
          this.store.heartbeat(job.id, this.workerId, q.leaseMs).then(
            (ok) => {
              if (!ok) abort.abort(new Error("lease lost: another worker took this job over"));
            },
            (err: unknown) => log.warn({ err }, "job lease renewal failed"),
          );
        },
        Math.max(250, Math.floor(q.leaseMs / 3)),
      );
      heartbeat.unref?.();
      try {
        if (job.attempts > job.maxAttempts) {
          outcome = "dead";
          await this.store.bury(
            job.id,
            this.workerId,
            `${job.lastError ? `${job.lastError}; ` : ""}abandoned: started ${job.attempts - 1} times without finishing (its process stopped)`,
          );
          log.error({ key: job.key }, "job abandoned too often; moved to the dead-letter state");
          return;
        }
        try {
          const result = await q.handler(job, { signal: abort.signal });
          if (abort.signal.aborted) throw abort.signal.reason ?? new Error("aborted");
          if (!(await this.store.complete(job.id, this.workerId, result))) {
            outcome = "lost";
            log.warn("job finished after its lease was lost; the new owner's state stands");
          }
        } catch (err) {
          outcome = await this.fail(q, job, err, abort.signal, log);
        }
      } catch (err) {
        outcome = "error";
        log.error({ err }, "recording a job outcome failed; its lease will expire and it runs again");
      } finally {
        clearInterval(heartbeat);
        q.running -= 1;
        this.inFlight.delete(job.id);
        jobsFinishedTotal.inc({ queue, outcome });
        jobSeconds.observe({ queue }, (Date.now() - started) / 1000);
        this.wake();
      }
    })();
  }

  /** Records a failed attempt. @returns the outcome label. */
  private async fail(
    q: Registered,
    job: Job<unknown>,
    err: unknown,
    signal: AbortSignal,
    log: Logger,
  ): Promise<string> {
    const reason = err instanceof Error ? err.message : String(err);
    if (signal.aborted && this.stopping) {
      await this.store.release(job.id, this.workerId);
      log.info("job handed back at shutdown");
      return "released";
    }
    if (signal.aborted) {
      log.warn({ reason }, "job stopped: its lease was lost");
      return "lost";
    }
    if (err instanceof PermanentJobError || job.attempts >= job.maxAttempts) {
      await this.store.bury(job.id, this.workerId, reason);
      log.error({ err, key: job.key }, "job failed for good; moved to the dead-letter state");
      return "dead";
    }
    const delay =
      err instanceof RetryJobError ? err.delayMs : backoffMs(job.attempts, q.backoff.minMs, q.backoff.maxMs);
    await this.store.retry(job.id, this.workerId, delay, reason);
    log.warn({ err, retryInMs: delay }, "job failed; it will be retried");
    return "retried";
  }
}

/**
 * Exponential backoff with "equal jitter": half of `min · 2^(attempt-1)` (capped at `max`) plus a
 * random part of the other half (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
