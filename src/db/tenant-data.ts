import { appendAudit } from "./audit.ts";
import type { Db } from "./types.ts";

/** Writes one audit log entry (see db/audit.ts for the full entry shape). */
export async function audit(
  db: Db,
  entry: {
    tenantId: string;
    actor: string;
    action: string;
    platform?: string;
    detail: Record<string, unknown>;
  },
): Promise<void> {
  await appendAudit(db, entry);
}
