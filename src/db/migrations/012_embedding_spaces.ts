import type { Migration } from "../migrate.ts";

/**
 * Embeddings with a workspace key (#12, item 6): per tenant, the embedding space whose vectors
 * searches use (`active_*`) and the one being filled in the background after a model, key or base
 * URL change (`building_*`). A space is an embedding model at one API root with one dimension; its
 * vectors live in their own LanceDB table (`*_table`), so models of different dimensions never
 * share a column. `building_done`/`building_total` record the progress of the last round.
 */
export const m012EmbeddingSpaces: Migration = {
  id: 12,
  name: "embedding_spaces",
  sql: `
CREATE TABLE embedding_spaces (
  tenant_id text PRIMARY KEY,
  active_model text,
  active_dims integer,
  active_base_url text NOT NULL DEFAULT '',
  active_table text,
  active_since timestamptz,
  building_model text,
  building_dims integer,
  building_base_url text NOT NULL DEFAULT '',
  building_table text,
  building_since timestamptz,
  last_error text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
};
