import type { Migration } from "../migrate.ts";

/**
 * Slack: workspace installations (tokens sealed with AES-256-GCM, see security/crypto.ts),
 * single-use OAuth `state` values bound to the installing browser, and ephemeral answers waiting
 * for their "Share in channel" button (shared at most once).
 */
export const m002Slack: Migration = {
  id: 2,
  name: "slack",
  sql: `
CREATE TABLE slack_installations (
  tenant_id text PRIMARY KEY,
  team_id text,
  enterprise_id text,
  team_name text,
  app_id text,
  bot_user_id text,
  bot_id text,
  bot_scopes text NOT NULL DEFAULT '',
  bot_token_sealed text NOT NULL,
  refresh_token_sealed text,
  token_expires_at timestamptz,
  installer_user_id text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'broken')),
  broken_reason text,
  installed_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_states (
  state_hash text PRIMARY KEY,
  provider text NOT NULL,
  browser_hash text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);

CREATE TABLE slack_shares (
  share_id text PRIMARY KEY,
  tenant_id text NOT NULL,
  channel_id text NOT NULL,
  user_id text NOT NULL,
  text text NOT NULL,
  blocks jsonb NOT NULL,
  shared_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_shares_tenant ON slack_shares (tenant_id, created_at);
`,
};
