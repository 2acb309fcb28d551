import { appendAudit } from "./audit.ts";
import type { Db } from "./types.ts";

/** Tables whose rows belong to one tenant's conversations, deleted when a workspace leaves. */
const CONVERSATION_TABLES = ["processed_events", "reply_shares", "thread_turns", "answers", "feedback"];

/**
 * Deletes a tenant's conversation data (events, shares, thread turns, answers, feedback) and its
 * finished or waiting inbound jobs. Memory (chunks, documents, sources) is purged by the memory
 * module. @returns the tables that failed (the others are still purged).
 */
export async function purgeConversationData(db: Db, tenantId: string): Promise<string[]> {
  const failed: string[] = [];
  for (const table of CONVERSATION_TABLES) {
    await db.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenantId]).catch(() => failed.push(table));
  }
  await db
    .query("DELETE FROM jobs WHERE tenant_id = $1 AND queue = 'inbound' AND status <> 'running'", [tenantId])
    .catch(() => failed.push("jobs"));
  return failed;
}

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
