import type { Migration } from "../migrate.ts";

/**
 * Connections of people to their document stores (Google Drive now, OneDrive next), and what a
 * change-feed sync needs to be resumable and honest:
 * - `connections`: one per (tenant, chat user, provider); tokens sealed with AES-256-GCM
 *   (security/crypto.ts), the change-feed cursor (committed only after the data it covers is
 *   written), status (`active` | `broken`), last sync, counts and last error. `refreshing_until`
 *   is a short lease so only one process refreshes an access token at a time; `token_version`
 *   tells a waiter that someone else refreshed.
 * - `connect_links`: signed, single-use sign-in links sent in chat (hashes only).
 * - `skipped_files`: files a source lists but Atom does not index, with the reason and the version
 *   that was skipped (a permanent skip is not retried until the file changes; a passing failure
 *   keeps its source entry and is retried at the next sync).
 */
export const m007Connections: Migration = {
  id: 7,
  name: "connections",
  sql: `
CREATE TABLE connections (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  provider text NOT NULL,
  owner_platform text NOT NULL,
  owner_user_id text NOT NULL,
  owner_email text,
  account_email text,
  tokens_sealed text NOT NULL,
  token_version integer NOT NULL DEFAULT 0,
  refreshing_until timestamptz,
  cursor text,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'broken')),
  broken_reason text,
  broken_notified_at timestamptz,
  first_sync_done_at timestamptz,
  last_sync_at timestamptz,
  last_sync_status text,
  last_error text,
  documents integer NOT NULL DEFAULT 0,
  notes jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, provider, owner_platform, owner_user_id)
);
CREATE INDEX connections_tenant ON connections (tenant_id, provider);

CREATE TABLE connect_links (
  link_hash text PRIMARY KEY,
  provider text NOT NULL,
  tenant_id text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connect_links_expires_at ON connect_links (expires_at);

CREATE TABLE skipped_files (
  tenant_id text NOT NULL,
  source_id text NOT NULL,
  doc_id text NOT NULL,
  name text NOT NULL,
  uri text NOT NULL,
  version text NOT NULL,
  reason text NOT NULL,
  permanent boolean NOT NULL DEFAULT true,
  entry jsonb,
  skipped_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, source_id, doc_id)
);
`,
};
