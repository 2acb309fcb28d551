import type { Migration } from "../migrate.ts";

/**
 * Dashboard reads stay bounded as history grows (issue 14: the page under 100 ms server time):
 * - `workflow_runs (workflow_id, created_at)`: the runs of the last 7 days of each workflow are an
 *   index range, not every run the workflow ever had (90-day run logs by default).
 * - `audit_log (tenant_id, action, created_at)`: the audit view filtered by action (and the
 *   7-day counts per action) reads only that action's entries of the workspace.
 */
export const m014DashboardIndexes: Migration = {
  id: 14,
  name: "dashboard_indexes",
  sql: `
CREATE INDEX workflow_runs_window ON workflow_runs (workflow_id, created_at);
CREATE INDEX audit_log_tenant_action ON audit_log (tenant_id, action, created_at);
`,
};
