import type { Migration } from "../migrate.ts";

/**
 * Teams: conversation references (for replies after the turn and proactive sends, surviving
 * restarts) and the answers behind sent messages (so Teams' feedback on a message finds its answer).
 */
export const m003Teams: Migration = {
  id: 3,
  name: "teams",
  sql: `
CREATE TABLE teams_conversations (
  tenant_id text NOT NULL,
  conversation_id text NOT NULL,
  channel_id text NOT NULL,
  teams_tenant_id text,
  conversation_type text,
  service_url text NOT NULL,
  reference jsonb NOT NULL,
  active boolean NOT NULL DEFAULT true,
  inactive_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id)
);
CREATE INDEX teams_conversations_channel ON teams_conversations (tenant_id, channel_id);

CREATE TABLE teams_sent_messages (
  tenant_id text NOT NULL,
  conversation_id text NOT NULL,
  activity_id text NOT NULL,
  answer_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, conversation_id, activity_id)
);
`,
};
