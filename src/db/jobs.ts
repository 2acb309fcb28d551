import type { Db, Queryable } from "./types.ts";

/** Lifecycle of a job row: `queued` → `running` → `done` | `dead` (gave up) | `cancelled`. */
export type JobStatus = "queued" | "running" | "done" | "dead" | "cancelled";

/** One durable job as stored in the `jobs` table (migration 004). */
export interface Job<P = unknown> {
  /** Row id (bigint as a decimal string). */
  id: string;
  /** Which handler runs it, e.g. `message`, `sync`, `workflow_run`. */
  queue: string;
  tenantId: string;
  /** Identity of the work within its queue and tenant; a second enqueue with the same key is a duplicate. */
  key: string;
  /** Interchangeable, exclusive jobs share it (one waits, one runs at a time). */
  singletonKey: string | null;
  payload: P;
  status: JobStatus;
  /** Times a worker started it (a take-over after a lost lease counts too). */
  attempts: number;
  maxAttempts: number;
  runAt: Date;
  lastError: string | null;
  result: unknown;
  createdAt: Date;
  finishedAt: Date | null;
}

/** What to enqueue. */
export interface EnqueueInput<P> {
  queue: string;
  tenantId: string;
  /** Idempotency key: the event's identity, `(workflow, scheduled time)`, … */
  key: string;
  payload: P;
  singletonKey?: string;
  /** Earliest start (default now). */
  runAt?: Date;
  /** Starts before giving up (default 5). */
  maxAttempts?: number;
}

/** Counts per queue and status, with the age of the oldest job still waiting. */
export interface JobStats {
  queue: string;
  status: JobStatus;
  count: number;
  /** Seconds since the oldest row of this queue/status became due (queued) or was created. */
  oldestAgeSeconds: number;
}

interface JobRecord {
  id: string;
  queue: string;
  tenant_id: string;
  job_key: string;
  singleton_key: string | null;
  payload: unknown;
  status: JobStatus;
  attempts: number;
  max_attempts: number;
  run_at: Date | string;
  last_error: string | null;
  result: unknown;
  created_at: Date | string;
  finished_at: Date | string | null;
}

const COLUMNS = `id::text AS id, queue, tenant_id, job_key, singleton_key, payload, status, attempts,
  max_attempts, run_at, last_error, result, created_at, finished_at`;

/** {@link COLUMNS} qualified for `UPDATE … FROM` (where bare names would be ambiguous). */
const CLAIMED_COLUMNS = `jobs.id::text AS id, jobs.queue, jobs.tenant_id, jobs.job_key, jobs.singleton_key,
  jobs.payload, jobs.status, jobs.attempts, jobs.max_attempts, jobs.run_at, jobs.last_error, jobs.result,
  jobs.created_at, jobs.finished_at`;

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toJob<P>(r: JobRecord): Job<P> {
  return {
    id: String(r.id),
    queue: r.queue,
    tenantId: r.tenant_id,
    key: r.job_key,
    singletonKey: r.singleton_key,
    payload: r.payload as P,
    status: r.status,
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
    runAt: toDate(r.run_at),
    lastError: r.last_error,
    result: r.result,
    createdAt: toDate(r.created_at),
    finishedAt: r.finished_at ? toDate(r.finished_at) : null,
  };
}

/** PostgreSQL's unique_violation (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "23505";
}

/** Longest error text kept on a row. */
const MAX_ERROR = 2000;

/**
 * Repository of the `jobs` table: the only SQL of the durable queue. Every state change after a
 * claim is fenced by `locked_by`, so a worker that lost its lease (another took the job over)
 * cannot overwrite the new owner's state. Works the same on PostgreSQL and PGlite.
 */
export class JobStore {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a job unless one with the same `(queue, tenant, key)` exists (`ON CONFLICT DO
   * NOTHING`), or, for a singleton, unless one with the same singleton key is already waiting.
   * Pass `tx` to enqueue inside a caller's transaction (e.g. with the state change that caused it).
   * @returns `created: false` for a duplicate; `id` of the new row when created.
   */
  async enqueue<P>(
    input: EnqueueInput<P>,
    tx: Queryable = this.db,
  ): Promise<{ created: boolean; id?: string }> {
    const r = await tx.query<{ id: string }>(
      `INSERT INTO jobs (queue, tenant_id, job_key, singleton_key, payload, run_at, max_attempts)
       VALUES ($1, $2, $3, $4, $5::jsonb, COALESCE($6::timestamptz, now()), $7)
       ON CONFLICT DO NOTHING RETURNING id::text AS id`,
      [
        input.queue,
        input.tenantId,
        input.key,
        input.singletonKey ?? null,
        JSON.stringify(input.payload ?? {}),
        input.runAt ?? null,
        input.maxAttempts ?? 5,
      ],
    );
    const id = r.rows[0]?.id;
    return id === undefined ? { created: false } : { created: true, id: String(id) };
  }

  /**
   * Claims up to `limit` due jobs of `queue` for `workerId` with a lease of `leaseMs`: queued rows
   * whose `run_at` has come, and running rows whose lease expired (their worker died). Rows
   * locked by a concurrent claim are skipped (`FOR UPDATE SKIP LOCKED`); a singleton whose twin is
   * running is left waiting.
   * @returns the claimed jobs, `attempts` already counting this start.
   */
  async claim<P = unknown>(
    queue: string,
    workerId: string,
    limit: number,
    leaseMs: number,
  ): Promise<Job<P>[]> {
    if (limit <= 0) return [];
    try {
      const r = await this.db.query<JobRecord>(
        `WITH next AS (
           SELECT j.id FROM jobs j
           WHERE j.queue = $1
             AND ((j.status = 'queued' AND j.run_at <= now())
               OR (j.status = 'running' AND j.locked_until < now()))
             AND (j.singleton_key IS NULL OR j.status = 'running' OR NOT EXISTS (
               SELECT 1 FROM jobs r WHERE r.queue = j.queue AND r.singleton_key = j.singleton_key
                 AND r.status = 'running'))
           ORDER BY j.run_at, j.id
           LIMIT $2
           FOR UPDATE SKIP LOCKED
         )
         UPDATE jobs SET status = 'running', attempts = jobs.attempts + 1, locked_by = $3,
           locked_until = now() + ($4::double precision * interval '1 millisecond'), updated_at = now()
         FROM next WHERE jobs.id = next.id
         RETURNING ${CLAIMED_COLUMNS}`,
        [queue, limit, workerId, leaseMs],
      );
      return r.rows.map((x) => toJob<P>(x)).sort((a, b) => a.runAt.getTime() - b.runAt.getTime());
    } catch (err) {
      // Two replicas raced for twins of one singleton: the loser claims nothing this round.
      if (isUniqueViolation(err)) return [];
      throw err;
    }
  }

  /** Extends the lease of a running job. @returns false when the lease was lost (another worker owns it). */
  async heartbeat(id: string, workerId: string, leaseMs: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET locked_until = now() + ($3::double precision * interval '1 millisecond'), updated_at = now()
       WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
      [id, workerId, leaseMs],
    );
    return r.rowCount > 0;
  }

  /** Marks a running job done with an optional JSON result. @returns false when the lease was lost. */
  async complete(id: string, workerId: string, result?: unknown): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET status = 'done', result = $3::jsonb, finished_at = now(), updated_at = now(),
         locked_by = NULL, locked_until = NULL
       WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
      [id, workerId, result === undefined ? null : JSON.stringify(result)],
    );
    return r.rowCount > 0;
  }

  /**
   * Puts a failed job back in the queue to run again after `delayMs`. A singleton whose twin is
   * already waiting is cancelled instead (the waiting twin does the same work).
   * @returns false when the lease was lost.
   */
  async retry(id: string, workerId: string, delayMs: number, error: string): Promise<boolean> {
    const params = [id, workerId, Math.max(0, delayMs), error.slice(0, MAX_ERROR)];
    try {
      const r = await this.db.query(
        `UPDATE jobs SET status = 'queued', run_at = now() + ($3::double precision * interval '1 millisecond'),
           last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = now()
         WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
        params,
      );
      return r.rowCount > 0;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const r = await this.db.query(
        `UPDATE jobs SET status = 'cancelled', last_error = $3, finished_at = now(), updated_at = now(),
           locked_by = NULL, locked_until = NULL
         WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
        [id, workerId, `superseded by a waiting twin after: ${error}`.slice(0, MAX_ERROR)],
      );
      return r.rowCount > 0;
    }
  }

  /** Gives up on a job (dead-letter state) with the reason. @returns false when the lease was lost. */
  async bury(id: string, workerId: string, error: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET status = 'dead', last_error = $3, finished_at = now(), updated_at = now(),
         locked_by = NULL, locked_until = NULL
       WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
      [id, workerId, error.slice(0, MAX_ERROR)],
    );
    return r.rowCount > 0;
  }

  /**
   * Hands a running job back without counting the start (a worker shutting down cleanly). It is
   * due again at once for any worker.
   */
  async release(id: string, workerId: string): Promise<boolean> {
    try {
      const r = await this.db.query(
        `UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(),
           locked_by = NULL, locked_until = NULL, updated_at = now()
         WHERE id = $1::bigint AND locked_by = $2 AND status = 'running' RETURNING id`,
        [id, workerId],
      );
      return r.rowCount > 0;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      return this.bury(id, workerId, "released at shutdown while a twin was waiting");
    }
  }

  /** Cancels a job that has not started yet. @returns false when it is unknown or already started. */
  async cancel(queue: string, tenantId: string, key: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE jobs SET status = 'cancelled', finished_at = now(), updated_at = now()
       WHERE queue = $1 AND tenant_id = $2 AND job_key = $3 AND status = 'queued' RETURNING id`,
      [queue, tenantId, key],
    );
    return r.rowCount > 0;
  }

  /** One job by its identity, or undefined. */
  async get<P = unknown>(queue: string, tenantId: string, key: string): Promise<Job<P> | undefined> {
    const r = await this.db.query<JobRecord>(
      `SELECT ${COLUMNS} FROM jobs WHERE queue = $1 AND tenant_id = $2 AND job_key = $3`,
      [queue, tenantId, key],
    );
    return r.rows[0] ? toJob<P>(r.rows[0]) : undefined;
  }

  /** Jobs by status (newest first), for status pages, `atom jobs` and tests. */
  async list<P = unknown>(
    filter: { queue?: string; tenantId?: string; status?: JobStatus[]; limit?: number } = {},
  ): Promise<Job<P>[]> {
    const r = await this.db.query<JobRecord>(
      `SELECT ${COLUMNS} FROM jobs
       WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR tenant_id = $2)
         AND ($3::text[] IS NULL OR status = ANY($3::text[]))
       ORDER BY jobs.id DESC LIMIT $4`,
      [filter.queue ?? null, filter.tenantId ?? null, filter.status ?? null, filter.limit ?? 100],
    );
    return r.rows.map((x) => toJob<P>(x));
  }

  /**
   * Number of jobs not finished yet (queued — due now or later — or running), optionally only in
   * `queues`. Zero means the queue is drained.
   * @param dueOnly count queued jobs only when they are due (ignore retries scheduled later).
   */
  async pending(queues?: string[], dueOnly = false): Promise<number> {
    const r = await this.db.query<{ n: number | string }>(
      `SELECT count(*)::int AS n FROM jobs
       WHERE (status = 'running' OR (status = 'queued' AND (NOT $2::boolean OR run_at <= now())))
         AND ($1::text[] IS NULL OR queue = ANY($1::text[]))`,
      [queues ?? null, dueOnly],
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Counts per queue and status with the oldest job's age (queue depth and job age metrics). */
  async stats(): Promise<JobStats[]> {
    const r = await this.db.query<{
      queue: string;
      status: JobStatus;
      n: number | string;
      age: number | string | null;
    }>(
      `SELECT queue, status, count(*)::int AS n,
         extract(epoch FROM now() - min(CASE WHEN status = 'queued' THEN least(run_at, now()) ELSE created_at END))::float8 AS age
       FROM jobs GROUP BY queue, status ORDER BY queue, status`,
    );
    return r.rows.map((x) => ({
      queue: x.queue,
      status: x.status,
      count: Number(x.n),
      oldestAgeSeconds: Math.max(0, Number(x.age ?? 0)),
    }));
  }

  /**
   * Deletes finished jobs older than their retention (default: done and cancelled after 7 days —
   * they are the dedupe record of redelivered events; dead after 30 days).
   * @returns rows deleted.
   */
  async prune(opts: { doneOlderThanMs?: number; deadOlderThanMs?: number } = {}): Promise<number> {
    const done = opts.doneOlderThanMs ?? 7 * 86_400_000;
    const dead = opts.deadOlderThanMs ?? 30 * 86_400_000;
    const r = await this.db.query(
      `DELETE FROM jobs
       WHERE (status IN ('done', 'cancelled') AND finished_at < now() - ($1::double precision * interval '1 millisecond'))
          OR (status = 'dead' AND finished_at < now() - ($2::double precision * interval '1 millisecond'))`,
      [done, dead],
    );
    return r.rowCount;
  }
}
