import type { Migration } from "../migrate.ts";

/**
 * Durable jobs (DESIGN.md, "Ack fast, work after — durably"): every acked inbound message, every
 * sync and every workflow run is one row here before anything else happens.
 * - `(queue, tenant_id, job_key)` is unique: a duplicate delivery stops at the INSERT.
 * - Workers claim due rows with `FOR UPDATE SKIP LOCKED` and hold a lease (`locked_until`); a row
 *   whose lease expired (its process died) is taken over by another worker.
 * - `singleton_key` makes jobs interchangeable and exclusive: at most one of them waits and at
 *   most one runs at a time (e.g. one sync per connection across replicas).
 */
export const m004Jobs: Migration = {
  id: 4,
  name: "jobs",
  sql: `
CREATE TABLE jobs (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  tenant_id text NOT NULL,
  job_key text NOT NULL,
  singleton_key text,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5,
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  locked_until timestamptz,
  last_error text,
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  UNIQUE (queue, tenant_id, job_key)
);
CREATE INDEX jobs_due ON jobs (queue, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_leases ON jobs (queue, locked_until) WHERE status = 'running';
CREATE INDEX jobs_finished ON jobs (status, finished_at) WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX jobs_singleton_queued ON jobs (queue, singleton_key) WHERE status = 'queued' AND singleton_key IS NOT NULL;
CREATE UNIQUE INDEX jobs_singleton_running ON jobs (queue, singleton_key) WHERE status = 'running' AND singleton_key IS NOT NULL;
`,
};
