import { SYNC_QUEUE } from "../connections/types.ts";
import type { Atom } from "../main.ts";
import type { CliIo } from "./runtime.ts";

/**
 * `atom sync`: queues a sync of every connection (Google Drive), runs the job worker until
 * the sync queue is drained, and prints each connection's state. Syncs are the same durable jobs
 * the server runs, so a server replica running at the same time never syncs a connection twice.
 * @returns exit code: 0 when every connection synced, 1 when one failed or is broken.
 */
export async function runSync(
  atom: Atom,
  io: CliIo,
  opts: { json?: boolean; timeoutMs?: number } = {},
): Promise<number> {
  const queued = await atom.connections.enqueueAll("cli");
  atom.jobs.start();
  await atom.jobs.drain({
    queues: [SYNC_QUEUE],
    timeoutMs: opts.timeoutMs ?? 24 * 3_600_000,
    intervalMs: 200,
  });
  const connections = await atom.connections.store.list();
  const rows = connections.map((c) => ({
    id: c.id,
    tenant: c.tenantId,
    provider: c.provider,
    account: c.accountEmail,
    status: c.status === "broken" ? "broken" : (c.lastSyncStatus ?? "never synced"),
    documents: c.documents,
    lastSyncAt: c.lastSyncAt?.toISOString() ?? null,
    error: c.status === "broken" ? c.brokenReason : c.lastSyncStatus === "failed" ? c.lastError : null,
  }));
  if (opts.json) io.stdout.write(`${JSON.stringify({ queued, connections: rows })}\n`);
  else if (rows.length === 0)
    io.stdout.write("No connections yet: people connect with “connect drive” in chat.\n");
  else {
    for (const r of rows) {
      io.stdout.write(
        `${r.provider} ${r.account ?? "?"} (${r.tenant}): ${r.status}, ${r.documents} documents${r.error ? ` — ${r.error}` : ""}\n`,
      );
    }
  }
  return rows.some((r) => r.status === "broken" || r.status === "failed") ? 1 : 0;
}
