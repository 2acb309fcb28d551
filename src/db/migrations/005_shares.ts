import type { Migration } from "../migrate.ts";

/**
 * "Share in channel" moves into the core (DESIGN.md, Permissions: a reply re-posted to a wider
 * audience is re-checked with that audience's principals): a platform-neutral table holds each
 * private answer that may be shared, the platform-neutral reply itself and the documents it cited
 * (`[{source, docId}]`), so the check can run again when the button is pressed. The Slack-only
 * `slack_shares` table (rendered Block Kit, no cited documents) is dropped: an old share button
 * then answers that the answer can no longer be shared.
 */
export const m005Shares: Migration = {
  id: 5,
  name: "shares",
  sql: `
CREATE TABLE reply_shares (
  share_id text PRIMARY KEY,
  tenant_id text NOT NULL,
  platform text NOT NULL,
  channel_id text NOT NULL,
  user_id text NOT NULL,
  is_direct boolean NOT NULL DEFAULT false,
  reply jsonb NOT NULL,
  cited jsonb NOT NULL DEFAULT '[]'::jsonb,
  shared_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reply_shares_tenant ON reply_shares (tenant_id, created_at);
DROP TABLE slack_shares;
`,
};
