import type { Db } from "./types.ts";

/**
 * Connections per provider and status (the `atom_connections` gauge and the dashboard).
 * @returns one row per (provider, status) present.
 */
export async function connectionCounts(db: Db): Promise<{ kind: string; status: string; count: number }[]> {
  const r = await db.query<{ provider: string; status: string; n: number | string }>(
    "SELECT provider, status, count(*)::int AS n FROM connections GROUP BY provider, status ORDER BY provider, status",
  );
  return r.rows.map((x) => ({ kind: x.provider, status: x.status, count: Number(x.n) }));
}
