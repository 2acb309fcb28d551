import type { Migration } from "../migrate.ts";

/** Core tables: event dedupe, sources and documents of the memory, thread turns, feedback, settings. */
export const m001Core: Migration = {
  id: 1,
  name: "core",
  sql: `
CREATE TABLE processed_events (
  platform text NOT NULL,
  tenant_id text NOT NULL,
  event_key text NOT NULL,
  status text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'done')),
  claimed_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (platform, tenant_id, event_key)
);
CREATE INDEX processed_events_created_at ON processed_events (created_at);

CREATE TABLE sources (
  tenant_id text NOT NULL,
  source_id text NOT NULL,
  kind text NOT NULL,
  label text NOT NULL,
  config jsonb NOT NULL DEFAULT '{}'::jsonb,
  cursor jsonb,
  last_sync_at timestamptz,
  last_status text,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, source_id)
);

CREATE TABLE documents (
  tenant_id text NOT NULL,
  source_id text NOT NULL,
  doc_id text NOT NULL,
  uri text NOT NULL,
  title text NOT NULL,
  mime text NOT NULL,
  version text NOT NULL,
  content_hash text NOT NULL,
  modified_at timestamptz,
  acl jsonb NOT NULL DEFAULT '["anyone"]'::jsonb,
  chunk_count integer NOT NULL DEFAULT 0,
  indexed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, source_id, doc_id)
);

CREATE TABLE thread_turns (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  platform text NOT NULL,
  channel_id text NOT NULL,
  thread_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  user_id text,
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX thread_turns_thread ON thread_turns (tenant_id, platform, channel_id, thread_id, id);

CREATE TABLE feedback (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  platform text NOT NULL,
  answer_id text NOT NULL,
  user_id text NOT NULL,
  rating text NOT NULL CHECK (rating IN ('up', 'down')),
  question text NOT NULL,
  answer text NOT NULL,
  sources jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, platform, answer_id, user_id)
);

CREATE TABLE answers (
  answer_id text PRIMARY KEY,
  tenant_id text NOT NULL,
  platform text NOT NULL,
  question text NOT NULL,
  answer text NOT NULL,
  sources jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE settings (
  tenant_id text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  tenant_id text NOT NULL,
  actor text,
  action text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
`,
};
