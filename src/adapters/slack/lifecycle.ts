import { DEFAULT_TENANT } from "../../config.ts";
import type { Job } from "../../db/jobs.ts";
import { audit } from "../../db/tenant-data.ts";
import { purgeTenantRows } from "../../db/tenant-purge.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { SlackCredentials } from "./credentials.ts";
import type { SlackLifecycleCallback } from "./payloads.ts";

/** The memory operation needed when a workspace uninstalls Atom. */
export interface TenantPurger {
  /** Deletes every chunk, document and source of the tenant. */
  purgeTenant(tenantId: string): Promise<void>;
}

/**
 * Handles a stored `app_uninstalled` / `tokens_revoked` delivery (a job of the
 * `slack.lifecycle` queue): when the workspace removed Atom or revoked its bot token, the
 * installation, the tenant's conversation data and its memory are purged (audit-logged). The
 * single-workspace token's tenant is the default tenant, whose documents come from the
 * environment: it is only marked as not working. A `tokens_revoked` for user tokens only is ignored.
 */
export function lifecycleHandler(deps: {
  db: Db;
  credentials: SlackCredentials;
  memory: TenantPurger;
  logger: Logger;
  /** Tenant lookup waits this long for the single token's identity, ms. */
  identityWaitMs: number;
}): (job: Job<{ workspace: string; body: SlackLifecycleCallback }>) => Promise<unknown> {
  const log = deps.logger;
  return async (job) => {
    const { workspace, body } = job.payload;
    const ev = body.event;
    if (ev.type === "tokens_revoked" && (ev.tokens.bot ?? []).length === 0)
      return { ignored: "user tokens only" };
    const why = ev.type;
    const tenantId = await deps.credentials.tenantOf(workspace, deps.identityWaitMs);
    if (tenantId === DEFAULT_TENANT) {
      await deps.credentials.markBroken(DEFAULT_TENANT, why);
      log.warn({ why }, "slack app removed from the single workspace; SLACK_BOT_TOKEN no longer works");
      return { tenantId, purged: false };
    }
    await deps.credentials.delete(tenantId);
    // Memory first (LanceDB chunks, then documents and sources), then every other table.
    await deps.memory.purgeTenant(tenantId);
    const { deleted, failed } = await purgeTenantRows(deps.db, tenantId, { keepJobId: job.id });
    if (failed.length > 0) log.error({ tables: failed }, "purge of slack tenant data failed for some tables");
    await audit(deps.db, {
      tenantId,
      actor: "slack",
      action: "uninstall",
      platform: "slack",
      detail: { reason: why },
    }).catch((err: unknown) => log.warn({ err }, "audit log entry failed"));
    await audit(deps.db, {
      tenantId,
      actor: "system",
      action: "data.purged",
      platform: "system",
      detail: { reason: "workspace uninstalled", deleted, failedTables: failed, memory: "all chunks" },
    }).catch((err: unknown) => log.warn({ err }, "audit log entry failed"));
    log.info({ tenantId, why }, "slack workspace removed; its installation, events and memory were purged");
    return { tenantId, purged: true };
  };
}
