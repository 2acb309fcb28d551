import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Db, QueryResult, Queryable } from "./types.ts";

/**
 * Opens PostgreSQL when `databaseUrl` is given, otherwise PGlite persisted under `pgliteDir`
 * (or in memory when `pgliteDir` is `"memory://"`).
 */
export async function openDb(opts: { databaseUrl?: string; pgliteDir: string }): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  return openPglite(opts.pgliteDir);
}

/** A pooled `pg` connection to a PostgreSQL server. */
export async function openPostgres(url: string): Promise<Db> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // A dropped idle connection must not crash the process.
  pool.on("error", () => {});
  const query = async <T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> => {
    const r = await pool.query(sql, params as unknown[]);
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  };
  return {
    kind: "postgres",
    query,
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const tx: Queryable = {
          async query<T>(sql: string, params?: unknown[]) {
            const r = await client.query(sql, params as unknown[]);
            return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
          },
        };
        const out = await fn(tx);
        await client.query("COMMIT");
        return out;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * PGlite runs in this process's memory: a small buffer cache keeps idle RSS within budget (the
 * default 128 MB of shared buffers is sized for a server, not for an embedded bookkeeping store).
 */
const PGLITE_CONF = ["shared_buffers=16MB", "work_mem=4MB"];

/**
 * Creates a new PGlite data directory in a short-lived child process. Creating the cluster
 * (initdb) grows the WebAssembly heap to several hundred MB that is never given back; doing it in
 * a child keeps the long-running process small.
 * @throws Error with the child's error output when the directory cannot be created.
 */
async function initPgliteDir(dir: string): Promise<void> {
  const moduleUrl = import.meta.resolve("@electric-sql/pglite");
  const script = `const { PGlite } = await import(${JSON.stringify(moduleUrl)});
const db = new PGlite(${JSON.stringify(path.resolve(dir))});
await db.waitReady;
await db.close();`;
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { timeout: 120_000 },
      (err, _out, stderr) => {
        if (err)
          reject(
            new Error(`could not create the embedded database in ${dir}: ${stderr.trim() || err.message}`),
          );
        else resolve();
      },
    );
  });
}

/** Embedded PGlite. One connection; statements are serialised by PGlite itself. */
export async function openPglite(dir: string): Promise<Db> {
  const { PGlite } = await import("@electric-sql/pglite");
  let pgl: InstanceType<typeof PGlite>;
  if (dir === "memory://") {
    pgl = new PGlite({ postgresqlconf: PGLITE_CONF });
  } else {
    fs.mkdirSync(path.dirname(path.resolve(dir)), { recursive: true });
    if (!fs.existsSync(path.join(dir, "PG_VERSION"))) await initPgliteDir(dir);
    pgl = new PGlite(dir, { postgresqlconf: PGLITE_CONF });
  }
  await pgl.waitReady;
  const query = async <T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> => {
    const r = await pgl.query<T>(sql, params);
    return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
  };
  return {
    kind: "pglite",
    query,
    async exec(sql) {
      await pgl.exec(sql);
    },
    async transaction(fn) {
      return pgl.transaction(async (t) =>
        fn({
          async query<T>(sql: string, params?: unknown[]) {
            const r = await t.query<T>(sql, params);
            return { rows: r.rows, rowCount: r.affectedRows || r.rows.length };
          },
        }),
      );
    },
    async close() {
      if (!pgl.closed) await pgl.close();
    },
  };
}
