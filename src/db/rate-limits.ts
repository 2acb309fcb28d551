import type { Db } from "./types.ts";

/**
 * Counts one hit of `scope` in the fixed window that starts at `windowStart` and returns the
 * window's count after it (one atomic upsert: replicas share the counter).
 */
export async function countHit(
  db: Db,
  hit: { tenantId: string; scope: string; windowStart: Date },
): Promise<number> {
  const r = await db.query<{ hits: number }>(
    `INSERT INTO rate_limit_hits (tenant_id, scope, window_start, hits) VALUES ($1, $2, $3, 1)
     ON CONFLICT (scope, window_start) DO UPDATE SET hits = rate_limit_hits.hits + 1
     RETURNING hits`,
    [hit.tenantId, hit.scope, hit.windowStart],
  );
  return Number(r.rows[0]?.hits ?? 0);
}
