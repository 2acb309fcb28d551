import type { Db } from "./types.ts";

/** Runs `fn` while holding a lock; see {@link advisoryLock}. */
export type LockRunner = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * A cluster-wide mutex named `name`: on PostgreSQL, a transaction-scoped advisory lock
 * (`pg_advisory_xact_lock(hashtext(name))`, https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS)
 * held on one pooled connection while `fn` runs, so every replica on the same database waits its
 * turn; the lock is released at COMMIT/ROLLBACK, also when the process dies (the server ends its
 * session). On PGlite only this process can use the database, so `fn` just runs.
 * `fn`'s own queries do not run inside that transaction.
 */
export function advisoryLock(db: Db, name: string): LockRunner {
  if (db.kind !== "postgres") return (fn) => fn();
  return (fn) =>
    db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [name]);
      return fn();
    });
}
