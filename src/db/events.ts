import type { Db } from "./types.ts";

/** Identity of one inbound event: `(platform, tenant, key)`; key is e.g. `channel:ts`. */
export interface EventIdentity {
  platform: string;
  tenantId: string;
  key: string;
}

/**
 * Claims an inbound event for processing (DESIGN.md: "nothing lost, nothing twice").
 * The first claim wins (`INSERT … ON CONFLICT DO NOTHING`), across retries and replicas.
 * A claim still `processing` after `staleAfterMs` (the claiming process died) may be taken over,
 * so a retry of an event whose first delivery was never finished is still processed.
 * @returns true when this caller should process the event.
 */
export async function claimEvent(db: Db, id: EventIdentity, staleAfterMs = 120_000): Promise<boolean> {
  const inserted = await db.query(
    `INSERT INTO processed_events (platform, tenant_id, event_key) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING event_key`,
    [id.platform, id.tenantId, id.key],
  );
  if (inserted.rowCount > 0) return true;
  const taken = await db.query(
    `UPDATE processed_events SET claimed_at = now()
     WHERE platform = $1 AND tenant_id = $2 AND event_key = $3 AND status = 'processing'
       AND claimed_at < now() - ($4::double precision * interval '1 millisecond')
     RETURNING event_key`,
    [id.platform, id.tenantId, id.key, staleAfterMs],
  );
  return taken.rowCount > 0;
}

/** Marks a claimed event as fully processed; it will never be claimed again. */
export async function completeEvent(db: Db, id: EventIdentity): Promise<void> {
  await db.query(
    `UPDATE processed_events SET status = 'done' WHERE platform = $1 AND tenant_id = $2 AND event_key = $3`,
    [id.platform, id.tenantId, id.key],
  );
}

/** Deletes event identities older than `maxAgeMs` (default 24 h; they must live at least an hour). */
export async function pruneEvents(db: Db, maxAgeMs = 24 * 3600_000): Promise<number> {
  const r = await db.query(
    "DELETE FROM processed_events WHERE created_at < now() - ($1::double precision * interval '1 millisecond')",
    [maxAgeMs],
  );
  return r.rowCount;
}

/**
 * Claims `key` for `windowMs`: succeeds when the key is new or its previous claim is older than
 * the window (one row in `processed_events`, atomically, across replicas). Used to run one of
 * several identical requests sent in quick succession (e.g. a slash command sent twice).
 */
export async function claimWindow(db: Db, id: EventIdentity, windowMs: number): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO processed_events (platform, tenant_id, event_key, status) VALUES ($1, $2, $3, 'done')
     ON CONFLICT (platform, tenant_id, event_key) DO UPDATE SET created_at = now(), claimed_at = now()
     WHERE processed_events.created_at < now() - ($4::double precision * interval '1 millisecond')
     RETURNING event_key`,
    [id.platform, id.tenantId, id.key, windowMs],
  );
  return r.rowCount > 0;
}
