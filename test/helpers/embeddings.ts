import crypto from "node:crypto";
import { runEmbedRound } from "../../src/ai/embed-job.ts";
import { WorkspaceEmbeddings } from "../../src/ai/embeddings.ts";
import { createAi } from "../../src/ai/index.ts";
import { loadConfig } from "../../src/config.ts";
import type { Db } from "../../src/db/types.ts";
import type { Memory } from "../../src/memory/memory.ts";
import { silentLogger } from "../../src/observability/logger.ts";

/**
 * Per-workspace embeddings over `memory` without a job worker: the key vault and settings on `db`,
 * the environment `env` (e.g. OPENAI_API_KEY + OPENAI_BASE_URL of a fake), searches wired to the
 * tenant's active space. `round(tenant)` runs one background round in place of the queue.
 */
export function wireEmbeddings(
  db: Db,
  memory: Memory,
  env: Record<string, string>,
  opts: { batchSize?: number; maxRetries?: number } = {},
) {
  const config = loadConfig({ LOG_LEVEL: "silent", ...env });
  const master = crypto.randomBytes(32);
  const ai = createAi({ config, db, logger: silentLogger, masterKey: () => master });
  const embeddings = new WorkspaceEmbeddings({
    db,
    vault: ai.vault,
    ai: ai.service,
    store: memory.store,
    config,
    logger: silentLogger,
    cacheMs: 0,
    ...opts,
  });
  memory.queryVectors = (t) => embeddings.queryVectors(t);
  return { ai, embeddings, round: (tenantId: string) => runEmbedRound(embeddings, tenantId) };
}
