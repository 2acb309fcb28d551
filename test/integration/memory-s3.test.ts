import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { advisoryLock } from "../../src/db/locks.ts";
import { type Memory, openMemory } from "../../src/memory/memory.ts";
import { objectStoreOptions } from "../../src/memory/object-store.ts";
import { ChunkStore } from "../../src/memory/store.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { openPostgresSchema, tempDir } from "../helpers/memory.ts";
import { type LocalS3, startLocalS3 } from "../helpers/s3.ts";

const TENANT = "acme";
const SOURCE = "folder:s3";
const ask = (memory: Memory, q: string) =>
  memory.search(q, { tenantId: TENANT, principals: ["anyone"], limit: 5 }).then((r) => r.hits);

/**
 * Memory on object storage for real: LanceDB's own object_store client talks to a local
 * S3-compatible server (s3rver) over loopback HTTP, configured only through the environment Atom
 * reads (LANCEDB_URI=s3://…, AWS_*, LANCEDB_S3_ENDPOINT).
 */
describe("memory on S3-compatible object storage", { timeout: 180_000 }, () => {
  let s3: LocalS3;
  let db: Db;
  let folder: string;
  const uri = (prefix: string) => s3.env(prefix).LANCEDB_URI!;
  const options = (prefix: string) => objectStoreOptions(uri(prefix), s3.env(prefix));

  beforeAll(async () => {
    s3 = await startLocalS3();
    db = await openPglite("memory://");
    await migrate(db);
    folder = tempDir("atom-s3-docs-");
  });
  afterAll(async () => {
    await db?.close();
    await s3?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it("ingests, searches, deletes and compacts, and a fresh process reads it back", async () => {
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
      fs.writeFileSync(path.join(folder, rel), text);
    };
    write("travel/per-diem.md", "# Per diem\n\nThe travel per diem for Lisbon is 85 euros a day.\n");
    write("it/laptops.md", "# Laptops\n\nEngineers get a laptop refresh every three years.\n");
    write("people/parental.md", "# Parental leave\n\nParental leave lasts twenty weeks at full pay.\n");

    const memory = await openMemory({
      db,
      uri: uri("round-trip"),
      logger: createLogger("silent"),
      storageOptions: options("round-trip"),
    });
    const first = await memory.syncFolder(folder, { tenantId: TENANT, sourceId: SOURCE });
    expect(first.errors).toEqual([]);
    expect(first.added).toBe(3);
    // The table, its fragments, manifests and indexes are objects in the bucket.
    const keys = s3.keys("round-trip");
    expect(keys.some((k) => k.startsWith("round-trip/chunks.lance/_versions/"))).toBe(true);
    expect(keys.some((k) => k.startsWith("round-trip/chunks.lance/data/"))).toBe(true);
    expect(keys.some((k) => k.startsWith("round-trip/chunks.lance/_indices/"))).toBe(true);

    expect((await ask(memory, "per diem Lisbon"))[0]?.doc.uri).toBe("travel/per-diem.md");
    expect((await ask(memory, "laptop refresh"))[0]?.doc.uri).toBe("it/laptops.md");

    // Delete one document and change another; the next sync removes and replaces their chunks.
    fs.rmSync(path.join(folder, "it/laptops.md"));
    write("people/parental.md", "# Parental leave\n\nParental leave lasts twenty-six weeks at full pay.\n");
    const second = await memory.syncFolder(folder, { tenantId: TENANT, sourceId: SOURCE });
    expect(second.errors).toEqual([]);
    expect(second.deleted).toBe(1);
    expect(await ask(memory, "laptop refresh")).toEqual([]);
    expect((await ask(memory, "parental leave"))[0]?.best.text).toContain("twenty-six");

    // Compaction: optimize rewrites fragments and prunes old versions on the store.
    const before = await memory.store.chunks.version();
    await memory.store.chunks.optimize({ cleanupOlderThan: new Date(Date.now() + 1000) });
    const stats = await memory.store.chunks.stats();
    expect(stats.fragmentStats.numFragments).toBe(1);
    expect(await memory.store.chunks.version()).toBeGreaterThan(before);
    const manifests = s3.keys("round-trip").filter((k) => k.includes("/_versions/"));
    expect(manifests.length).toBeLessThanOrEqual(2);
    await memory.close();

    // Another process (a new connection) reads the same objects.
    const again = await openMemory({
      db,
      uri: uri("round-trip"),
      logger: createLogger("silent"),
      storageOptions: options("round-trip"),
    });
    expect(await again.store.count()).toBe(2);
    expect((await ask(again, "per diem Lisbon"))[0]?.doc.uri).toBe("travel/per-diem.md");
    expect(await ask(again, "laptop refresh")).toEqual([]);
    await again.close();
  });

  /**
   * s3rver ignores conditional puts, so two writers committing at once could overwrite each
   * other's manifest. Serialised by the PostgreSQL advisory lock, concurrent writes from two
   * connections (two replicas) all land.
   */
  describe.skipIf(!process.env.TEST_DATABASE_URL)("two writers on PostgreSQL", () => {
    it("serialises writes from two connections through the advisory lock: none is lost", async () => {
      const pg = await openPostgresSchema(process.env.TEST_DATABASE_URL!);
      try {
        const lock = advisoryLock(pg.db, "atom:test:s3-writers");
        const open = () =>
          ChunkStore.open(uri("writers"), { storageOptions: options("writers"), writeLock: lock });
        const a = await open();
        const b = await open();
        const doc = (store: ChunkStore, i: number) =>
          store.replaceDocument(
            {
              tenantId: TENANT,
              source: SOURCE,
              docId: `d${i}`,
              title: `Doc ${i}`,
              uri: `d${i}.md`,
              mime: "text/markdown",
              modifiedAt: 0,
              acl: ["anyone"],
            },
            [{ chunkIndex: 0, headings: [], text: `document number ${i}` }],
          );
        await Promise.all(Array.from({ length: 12 }, (_, i) => doc(i % 2 === 0 ? a : b, i)));
        await a.chunks.checkoutLatest();
        expect(await a.count()).toBe(12);
        await a.close();
        await b.close();
      } finally {
        await pg.db.close();
        await pg.drop();
      }
    });
  });
});
