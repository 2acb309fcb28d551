/** Result of one SQL statement. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * The one database interface Atom uses, implemented over `pg` (PostgreSQL server) and PGlite
 * (embedded). SQL is PostgreSQL; parameters are `$1, $2, …` and are never interpolated.
 */
export interface Db {
  /** `"postgres"` for a server, `"pglite"` for the embedded database. */
  readonly kind: "postgres" | "pglite";
  /** Runs one parameterised statement. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` inside BEGIN/COMMIT on one connection; rolls back and rethrows on error. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes connections. */
  close(): Promise<void>;
}

/** The part of {@link Db} usable inside a transaction. */
export type Queryable = Pick<Db, "query">;
