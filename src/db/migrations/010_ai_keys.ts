import type { Migration } from "../migrate.ts";

/**
 * Bring your own AI keys (#12):
 * - `ai_keys`: one key per (tenant, owner, provider) — `owner` is '' for the workspace key or
 *   `<platform>:<user id>` for a person's own key; the key sealed with AES-256-GCM under the
 *   master key named in the value (security/crypto.ts), its last 4 characters for display, an
 *   optional base URL, who set it and when, and whether the provider refused it (`invalid_at`;
 *   `invalid_notified_at` so the admin is told once).
 * - `ai_settings`: per tenant, the chosen answer provider and model, the embedding model, and the
 *   embedding model whose vectors are in use (a change re-embeds in the background).
 * - `ai_usage`: calls, input/output tokens and audio seconds per tenant, month (`YYYY-MM`, UTC) and provider.
 */
export const m010AiKeys: Migration = {
  id: 10,
  name: "ai_keys",
  sql: `
CREATE TABLE ai_keys (
  tenant_id text NOT NULL,
  owner text NOT NULL DEFAULT '',
  provider text NOT NULL CHECK (provider IN ('openai', 'anthropic', 'deepgram')),
  key_sealed text,
  key_last4 text,
  base_url text,
  set_by text NOT NULL,
  set_at timestamptz NOT NULL DEFAULT now(),
  invalid_at timestamptz,
  invalid_notified_at timestamptz,
  PRIMARY KEY (tenant_id, owner, provider)
);

CREATE TABLE ai_settings (
  tenant_id text PRIMARY KEY,
  answer_provider text,
  answer_model text,
  embedding_model text,
  embedding_active_model text,
  updated_by text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_usage (
  tenant_id text NOT NULL,
  month text NOT NULL,
  provider text NOT NULL,
  calls integer NOT NULL DEFAULT 0,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  audio_seconds double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, month, provider)
);
`,
};
