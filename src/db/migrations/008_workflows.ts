import type { Migration } from "../migrate.ts";

/**
 * Workflows (DESIGN.md, Core flows → Workflow):
 * - `workflows`: one row per workflow with its state and schedule — `next_run_at` is the next fire
 *   time (computed in the workflow's zone); the ticker of every replica looks only for due rows.
 * - `workflow_versions`: every edit is a new version (definition JSON); `workflows.active_version`
 *   says which one runs (rollback points it at an older one).
 * - `workflow_runs`: one row per fire time — `UNIQUE (workflow_id, run_key)` with the scheduled
 *   time as the key, so N replicas create one run; each run records the version it ran.
 * - `workflow_step_logs`: each step's input and output summary, error and duration, per attempt.
 * - `workflow_drafts`: plans waiting for Confirm/Cancel (a press may land on any replica).
 */
export const m008Workflows: Migration = {
  id: 8,
  name: "workflows",
  sql: `
CREATE TABLE workflows (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  name text NOT NULL,
  name_key text NOT NULL,
  platform text NOT NULL,
  channel_id text NOT NULL,
  thread_id text,
  is_direct boolean NOT NULL DEFAULT false,
  owner_id text NOT NULL,
  owner_email text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'finished', 'deleted')),
  active_version integer NOT NULL DEFAULT 1,
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_run_status text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workflows_name ON workflows (tenant_id, name_key) WHERE status <> 'deleted';
CREATE INDEX workflows_due ON workflows (next_run_at) WHERE status = 'active' AND next_run_at IS NOT NULL;

CREATE TABLE workflow_versions (
  workflow_id bigint NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  version integer NOT NULL,
  definition jsonb NOT NULL,
  created_by text NOT NULL,
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, version)
);

CREATE TABLE workflow_runs (
  id bigserial PRIMARY KEY,
  workflow_id bigint NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
  tenant_id text NOT NULL,
  run_key text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('scheduled', 'late', 'manual', 'dry_run', 'missed')),
  scheduled_for timestamptz NOT NULL,
  version integer NOT NULL,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'missed')),
  requested_by text,
  note text,
  attempts integer NOT NULL DEFAULT 0,
  error text,
  permanent boolean,
  started_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workflow_id, run_key)
);
CREATE INDEX workflow_runs_recent ON workflow_runs (workflow_id, id DESC);

CREATE TABLE workflow_step_logs (
  id bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  step_path text NOT NULL,
  step_type text NOT NULL,
  input_summary text NOT NULL DEFAULT '',
  output_summary text NOT NULL DEFAULT '',
  error text,
  duration_ms integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_step_logs_run ON workflow_step_logs (run_id, id);

CREATE TABLE workflow_drafts (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  workflow_id bigint,
  owner_id text NOT NULL,
  origin jsonb NOT NULL,
  definition jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'cancelled')),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
`,
};
