import { makeReply } from "../bot/reply.ts";
import type { Bot } from "../bot/types.ts";
import { recordAudit } from "../db/audit.ts";
import { lastMaintenanceRuns, type MaintenanceRun } from "../db/maintenance-runs.ts";
import type { Db } from "../db/types.ts";
import type { Memory } from "../memory/memory.ts";
import { eq } from "../memory/store.ts";
import type { Logger } from "../observability/logger.ts";

/** "forget my notes" and its variants. */
const FORGET_RE = /^(?:please\s+)?(?:forget|delete|erase|remove)\s+(?:all\s+)?(?:of\s+)?my\s+notes[.!]?$/i;

/**
 * Registers the operations side of the bot:
 * - the `forget my notes` command: deletes every note the asker stored in this workspace
 *   (LanceDB chunks and document rows), audit-logged as `notes.forgotten`;
 * - `status` lines on memory health: the tenant's passages in LanceDB, table size on disk and
 *   versions kept, rows not yet in the full-text index, search latency p50/p95 over the last hour,
 *   and the last retention and LanceDB maintenance runs.
 */
export function registerOperations(deps: { bot: Bot; db: Db; memory: Memory; logger: Logger }): void {
  const { bot, db, memory, logger } = deps;
  bot.registerCommand({
    kind: "notes.forget",
    match: (text) => (FORGET_RE.test(text) ? { kind: "notes.forget", query: "" } : undefined),
    help: ["Forget your notes: “forget my notes” — deletes every note you asked me to remember here."],
    async handle(ctx) {
      const { msg } = ctx;
      const names = [msg.userEmail, msg.userId].filter((x): x is string => Boolean(x));
      const n = await memory.forgetNotes(msg.tenantId, `${msg.platform}:${msg.userId}`, names);
      await recordAudit(db, logger, {
        tenantId: msg.tenantId,
        actor: msg.userId,
        action: "notes.forgotten",
        platform: msg.platform,
        detail: { notes: n },
      });
      return makeReply({
        intent: "notes.forget",
        text:
          n === 0
            ? "You have no notes stored here — nothing to forget."
            : `Done — I forgot ${n} note${n === 1 ? "" : "s"} you asked me to remember. They are gone from my memory.`,
        visibility: "ephemeral",
      });
    },
  });
  bot.addStatusContributor((tenantId) => memoryStatusLines(db, memory, tenantId));
}

/** Status lines on memory health for one tenant (see {@link registerOperations}). */
export async function memoryStatusLines(db: Db, memory: Memory, tenantId: string): Promise<string[]> {
  const lines: string[] = [];
  const [stats, mine] = await Promise.all([
    memory.store.tableStats(),
    memory.store.count(eq("tenant_id", tenantId)),
  ]);
  lines.push(
    `Memory store: ${mine} of your passages in LanceDB; table ${formatBytes(stats.bytes)} on disk, ${stats.versions} version(s) kept, ${stats.fragments} fragment(s), ${stats.unindexedRows} row(s) not yet in the full-text index`,
  );
  const lat = memory.searchLatency.summary(tenantId);
  lines.push(
    lat
      ? `Search latency (last hour): p50 ${Math.round(lat.p50)} ms, p95 ${Math.round(lat.p95)} ms over ${lat.count} search(es)`
      : "Search latency (last hour): no searches yet",
  );
  const runs = await lastMaintenanceRuns(db);
  const byTask = new Map(runs.map((r) => [r.task, r]));
  lines.push(
    `Maintenance: ${describeRun("retention", byTask.get("retention"))}; ${describeRun("LanceDB optimize", byTask.get("lancedb"))}`,
  );
  return lines;
}

/** "retention at 2026-12-02 10:00 UTC (removed 12 rows)" or "… never ran". */
export function describeRun(label: string, run: MaintenanceRun | undefined): string {
  if (!run) return `${label} has not run yet`;
  const at = `${run.finishedAt.toISOString().replace("T", " ").slice(0, 16)} UTC`;
  if (!run.ok)
    return `${label} failed at ${at}: ${String(run.detail.error ?? "unknown error").slice(0, 200)}`;
  const d = run.detail as Record<string, number>;
  if ("versionsRemoved" in d) {
    return `${label} at ${at} (compacted ${d.fragmentsRemoved ?? 0} fragment(s) into ${d.fragmentsAdded ?? 0}, removed ${d.versionsRemoved} old version(s), ${formatBytes(d.bytesRemoved ?? 0)})`;
  }
  const removed = Object.values(d).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);
  return `${label} at ${at} (removed ${removed} expired record(s))`;
}

/** 1536 → "1.5 KB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
