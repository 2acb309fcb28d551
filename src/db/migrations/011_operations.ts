import type { Migration } from "../migrate.ts";

/**
 * Running Atom in production (#14):
 * - `audit_log` gains the platform the action came from, indexes for the audit views, and a
 *   trigger that refuses UPDATE: entries are append-only (only retention and a workspace purge
 *   delete them).
 * - `rate_limit_hits`: counters per scope (`question:user:<tenant>:<user>`, …) and fixed window,
 *   shared by every replica.
 * - `documents.author`: who stored a note ("<platform>:<user id>"), so "forget my notes" finds them.
 * - `answer_stats`: answers per workspace, day and mode (extractive, generated, not_found) for the
 *   dashboard's chart — counts only, no question text.
 * - `maintenance_runs`: the last run of each maintenance task (retention, LanceDB optimize) and
 *   what it did, for `status` and the dashboard.
 */
export const m011Operations: Migration = {
  id: 11,
  name: "operations",
  sql: `
ALTER TABLE audit_log ADD COLUMN platform text;
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, created_at);
CREATE FUNCTION audit_log_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_update();

CREATE TABLE rate_limit_hits (
  tenant_id text NOT NULL,
  scope text NOT NULL,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL DEFAULT 0,
  PRIMARY KEY (scope, window_start)
);
CREATE INDEX rate_limit_hits_window ON rate_limit_hits (window_start);

ALTER TABLE documents ADD COLUMN author text;

CREATE TABLE answer_stats (
  tenant_id text NOT NULL,
  day date NOT NULL,
  mode text NOT NULL,
  answers integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, mode)
);

CREATE TABLE maintenance_runs (
  task text PRIMARY KEY,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT now(),
  ok boolean NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
`,
};
