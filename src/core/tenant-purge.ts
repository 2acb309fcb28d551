/**
 * The uninstall purge shared by every platform (issue 14, Retention and cleanup): when a workspace
 * or organisation removes Atom, its memory (LanceDB chunks, documents, sources) and every row of
 * the tenant in every table (installations, conversation references, connections, threads,
 * workflows, keys, jobs, …) are deleted, and the purge is audit-logged. The audit log itself is
 * kept: it is the record of the purge and leaves by its own retention.
 */
import { audit } from "../db/tenant-data.ts";
import { purgeTenantRows } from "../db/tenant-purge.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";

/** The memory operation needed when a tenant's data is purged. */
export interface TenantPurger {
  /** Deletes every chunk, document and source of the tenant. */
  purgeTenant(tenantId: string): Promise<void>;
}

/** What a purge deleted: row counts per table, and the tables whose delete failed. */
export interface PurgeResult {
  deleted: Record<string, number>;
  failed: string[];
}

/**
 * Purges all data of `tenantId`: memory first (chunks, then documents and sources), then every
 * other table ({@link purgeTenantRows}), then appends a `data.purged` audit entry naming the reason
 * and the row counts. A failed table is logged and listed; the others still go.
 * @param opts.keepJobId the job doing the purge (its own row is kept so it can complete).
 * @throws the memory purge's error (nothing of the tenant's rows is deleted then; a retry redoes it).
 */
export async function purgeTenantData(
  deps: { db: Db; memory: TenantPurger; logger: Logger },
  tenantId: string,
  opts: { platform: string; reason: string; keepJobId?: string },
): Promise<PurgeResult> {
  await deps.memory.purgeTenant(tenantId);
  const { deleted, failed } = await purgeTenantRows(deps.db, tenantId, { keepJobId: opts.keepJobId });
  if (failed.length > 0)
    deps.logger.error(
      { tenantId, tables: failed },
      `purge of ${opts.platform} tenant data failed for some tables`,
    );
  await audit(deps.db, {
    tenantId,
    actor: "system",
    action: "data.purged",
    platform: "system",
    detail: { reason: opts.reason, deleted, failedTables: failed, memory: "all chunks" },
  }).catch((err: unknown) => deps.logger.warn({ err }, "audit log entry failed"));
  return { deleted, failed };
}
