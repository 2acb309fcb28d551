import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { migrate, openPglite, openPostgres } from "../../src/db/index.ts";
import type { Db } from "../../src/db/index.ts";
import { openMemory, type Memory } from "../../src/memory/memory.ts";
import { createLogger } from "../../src/observability/logger.ts";

/** Where the real documents used by tests live (read in place, never copied into the project). */
export const CORPUS_DIR = path.resolve(import.meta.dirname, "../../../shared/corpus");
/** The real handbook folder (885 markdown files). */
export const HANDBOOK_DIR = path.join(CORPUS_DIR, "handbook");
/** Real files of every supported format, plus a broken PDF. */
export const FILES_DIR = path.join(CORPUS_DIR, "files");
/** Whether the handbook is present; tests that need it skip with a message otherwise. */
export const HAS_HANDBOOK = fs.existsSync(path.join(HANDBOOK_DIR, "index.md"));
/** Whether the folder of real files is present. */
export const HAS_FILES = fs.existsSync(path.join(FILES_DIR, "broken-truncated.pdf"));

/** A database backend storage tests run on: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export interface TestBackend {
  name: "PGlite" | "PostgreSQL";
  /** Opens an empty, unmigrated database; `drop` removes everything it created. */
  open(): Promise<{ db: Db; drop: () => Promise<void> }>;
}

let schemaSeq = 0;

/**
 * Backends for `describe.each`: PGlite in memory, and PostgreSQL in a fresh schema per open (named
 * after the process id, time and a counter, so parallel test files never share tables).
 */
export function testBackends(): TestBackend[] {
  const out: TestBackend[] = [
    {
      name: "PGlite",
      open: async () => ({ db: await openPglite("memory://"), drop: async () => {} }),
    },
  ];
  const url = process.env.TEST_DATABASE_URL;
  if (url) out.push({ name: "PostgreSQL", open: () => openPostgresSchema(url) });
  return out;
}

/** Opens PostgreSQL at `url` with `search_path` set to a new schema, dropped again by `drop`. */
export async function openPostgresSchema(url: string): Promise<{ db: Db; drop: () => Promise<void> }> {
  const schema = `t_atom_${process.pid}_${Date.now().toString(36)}_${schemaSeq++}`;
  const admin = await openPostgres(url);
  await admin.exec(`CREATE SCHEMA ${schema}`);
  const sep = url.includes("?") ? "&" : "?";
  const db = await openPostgres(`${url}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`);
  return {
    db,
    drop: async () => {
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/** A fresh, migrated database plus memory (LanceDB) in a temp dir. */
export interface TestMemory {
  db: Db;
  memory: Memory;
  /** The temp dir holding LanceDB (and anything else the test writes). */
  dir: string;
  /** Closes memory and database, drops the PostgreSQL schema, removes the temp dir. */
  close(): Promise<void>;
}

/**
 * Opens a fresh db + Memory in a temp dir: PGlite in memory by default, or PostgreSQL in a fresh
 * schema when `backend` is a PostgreSQL backend (see {@link testBackends}).
 */
export async function openTestMemory(backend: TestBackend = testBackends()[0]!): Promise<TestMemory> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-test-"));
  const { db, drop } = await backend.open();
  await migrate(db);
  const memory = await openMemory({ db, uri: path.join(dir, "lancedb"), logger: createLogger("silent") });
  return {
    db,
    memory,
    dir,
    async close() {
      await memory.close();
      await db.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new empty temp dir (removed by the caller). */
export function tempDir(prefix = "atom-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
