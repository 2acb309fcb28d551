import type { Db } from "./types.ts";
import { migrations } from "./migrations/index.ts";

/** One forward-only schema change. `id` orders migrations and is recorded once applied. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

/** Arbitrary constant used as the advisory lock key that serialises migrations across replicas. */
const MIGRATION_LOCK_KEY = 4_242_001;

/**
 * Applies every migration not yet recorded in `schema_migrations`, in id order, each in its own
 * transaction. Replicas starting together are serialised by a PostgreSQL advisory lock.
 * @returns the ids applied by this call.
 * @throws when a migration fails (that migration is rolled back; earlier ones stay applied).
 */
export async function migrate(db: Db, list: Migration[] = migrations): Promise<number[]> {
  const ids = new Set<number>();
  for (const m of list) {
    if (ids.has(m.id)) throw new Error(`duplicate migration id ${m.id}`);
    ids.add(m.id);
  }
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    // The lock comes first: two replicas running CREATE TABLE IF NOT EXISTS at the same moment can
    // both try to create it (PostgreSQL then reports a duplicate key in pg_type).
    await tx.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.query<{ id: number }>("SELECT id FROM schema_migrations")).rows.map((r) => Number(r.id)),
    );
    for (const m of [...list].sort((a, b) => a.id - b.id)) {
      if (done.has(m.id)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query("INSERT INTO schema_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      applied.push(m.id);
    }
  });
  return applied;
}

/** Splits a migration on `;` at line ends (migrations hold no functions or quoted semicolons). */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !/^(--[^\n]*\n?)+$/.test(s));
}
