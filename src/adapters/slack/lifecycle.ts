import { DEFAULT_TENANT } from "../../config.ts";
import type { Job } from "../../db/jobs.ts";
import { purgeTenantData, type TenantPurger } from "../../core/tenant-purge.ts";
import { audit } from "../../db/tenant-data.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { SlackCredentials } from "./credentials.ts";
import type { SlackLifecycleCallback } from "./payloads.ts";

export type { TenantPurger };

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
    await audit(deps.db, {
      tenantId,
      actor: "slack",
      action: "uninstall",
      platform: "slack",
      detail: { reason: why },
    }).catch((err: unknown) => log.warn({ err }, "audit log entry failed"));
    // Memory first (LanceDB chunks, then documents and sources), then every other table.
    await purgeTenantData({ db: deps.db, memory: deps.memory, logger: log }, tenantId, {
      platform: "slack",
      reason: "workspace uninstalled",
      keepJobId: job.id,
    });
    log.info({ tenantId, why }, "slack workspace removed; its installation, events and memory were purged");
    return { tenantId, purged: true };
  };
}
