export { openDb, openPglite, openPostgres } from "./client.ts";
export { migrate } from "./migrate.ts";
export type { Db, Queryable, QueryResult } from "./types.ts";
