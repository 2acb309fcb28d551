/**
 * Hybrid memory with the real `openai` SDK against the fake `/v1/embeddings`: background rounds
 * embed chunks into the space's own vector table, search fuses full-text and vector candidates
 * under the same tenant and ACL filters, failures are reported to the queue, a chunks table of an
 * earlier Atom with a vector column is rebuilt without it, and without a key memory stays
 * full-text only.
 */
import fs from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RetryJobError } from "../../src/core/worker.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { EmbeddingError } from "../../src/memory/embed.ts";
import { hybridCandidates, reciprocalRankFusion, scoreFusion } from "../../src/memory/hybrid.ts";
import { type Memory, openMemory } from "../../src/memory/memory.ts";
import { searchChunks } from "../../src/memory/search.ts";
import { type ChunkRow, hasLegacyVector, REBUILD_TABLE } from "../../src/memory/store.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { wireEmbeddings } from "../helpers/embeddings.ts";
import { type FakeOpenAi, startFakeOpenAi } from "./fakes/openai.ts";

const DOCS: Record<string, string> = {
  "finance/invoices.md":
    "# Invoice handling\n\nThe finance team relies on automation to route every supplier invoice to its approver. Approvers sign off within three days.",
  "people/parental-leave.md":
    "# Parental leave\n\nEmployees receive sixteen weeks of paid parental leave after the birth or adoption of a child.",
  "it/laptops.md":
    "# Laptops\n\nEvery new hire gets a laptop on the first day. Broken laptops are replaced by the IT desk.",
  "office/plants.md":
    "# Office plants\n\nThe plants in the kitchen are watered on Mondays by whoever arrives first.",
};
/** Shares no word with any document, and its stem ("automat") differs from "automation" ("autom"). */
const VECTOR_ONLY_QUERY = "automatic";

let fake: FakeOpenAi;
let tmp: string;
let db: Db;
const open: Memory[] = [];
/** A tenant of its own per test: the database is shared by the file's tests. */
let tenant = "";
let seq = 0;

beforeAll(async () => {
  fake = await startFakeOpenAi();
  db = await openPglite("memory://");
  await migrate(db);
});
afterAll(async () => {
  await fake.close();
  await db.close();
});
beforeEach(() => {
  fake.reset();
  tenant = `t${++seq}`;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "atom-hybrid-"));
});
afterEach(async () => {
  for (const m of open.splice(0)) await m.close().catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeDocs(dir: string, docs: Record<string, string>): string {
  for (const [rel, text] of Object.entries(docs)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

async function plainMemory(): Promise<Memory> {
  const m = await openMemory({ db, uri: path.join(tmp, "lancedb"), logger: silentLogger });
  open.push(m);
  return m;
}

/** Memory whose tenants embed with the environment key of the fake (`model` via OPENAI_EMBEDDING_MODEL). */
async function hybridMemory(model = "text-embedding-3-small", opts: { maxRetries?: number } = {}) {
  const m = await plainMemory();
  const wired = wireEmbeddings(
    db,
    m,
    { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, OPENAI_EMBEDDING_MODEL: model },
    opts,
  );
  return { m, ...wired };
}

/** Search options of someone who may read what everyone in the test's tenant may read. */
const everyone = () => ({ tenantId: tenant, principals: ["anyone"] });

describe("no key", () => {
  it("memory is full-text only: no vector table, mode fts, same results as full-text search", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await plainMemory();
    wireEmbeddings(db, m, {});
    await m.syncFolder(docs, { tenantId: tenant });
    expect(hasLegacyVector(await m.store.chunks.schema())).toBe(false);
    expect(await m.store.vectors.names()).toEqual([]);
    const result = await m.search("parental leave weeks", everyone());
    expect(result.mode).toBe("fts");
    expect(result.hits[0]?.doc.uri).toBe("people/parental-leave.md");
    const direct = await searchChunks(m.store, "parental leave weeks", everyone());
    expect(result.hits.map((h) => [h.doc.uri, h.score])).toEqual(
      direct.hits.map((h) => [h.doc.uri, h.score]),
    );
    expect(fake.calls).toHaveLength(0);
    expect((await m.search(VECTOR_ONLY_QUERY, everyone())).hits).toEqual([]);
  });
});

describe("hybrid search with a key", () => {
  it("sync writes no vector; a background round embeds every chunk in one batched request", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round, embeddings } = await hybridMemory();
    const summary = await m.syncFolder(docs, { tenantId: tenant });
    expect(summary.errors).toEqual([]);
    expect(summary.added).toBe(4);
    expect(fake.calls).toHaveLength(0); // ingest never waits for the provider
    expect((await m.search(VECTOR_ONLY_QUERY, everyone())).mode).toBe("fts");
    const r = await round(tenant);
    expect(r).toMatchObject({ status: "ready", model: "text-embedding-3-small", dims: 1536, switched: true });
    expect(fake.calls.filter((c) => c.status === 200)).toHaveLength(1);
    expect(fake.calls[0]!.encodingFormat).toBe("float");
    const state = await embeddings.spaces.get(tenant);
    expect(state.active).toMatchObject({ model: "text-embedding-3-small", dims: 1536 });
    const chunks = await m.store.count();
    expect(await m.store.vectors.count(state.active!.table, tenant)).toBe(chunks);
    expect(r.embedded).toBe(chunks);
    // A second round has nothing to do.
    fake.reset();
    expect(await round(tenant)).toMatchObject({ embedded: 0, switched: false });
    expect(fake.calls).toHaveLength(0);
  });

  it("finds a document only the vectors match, in mode hybrid", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round } = await hybridMemory();
    await m.syncFolder(docs, { tenantId: tenant });
    await round(tenant);
    expect((await searchChunks(m.store, VECTOR_ONLY_QUERY, everyone())).hits).toEqual([]);
    const result = await m.search(VECTOR_ONLY_QUERY, everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("finance/invoices.md");
    expect(result.hits[0]!.confidence).toBeGreaterThan(0);
    expect(result.hits[0]!.best.text).toContain("automation");
  });

  it("still ranks exact full-text matches first when both lists agree", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round } = await hybridMemory();
    await m.syncFolder(docs, { tenantId: tenant });
    await round(tenant);
    const result = await m.search("broken laptop replaced", everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("it/laptops.md");
    const space = (await m.queryVectors!(tenant))!;
    const found = await hybridCandidates(m.store, space, "broken laptop replaced", everyone());
    expect(found.fts.length).toBeGreaterThan(0);
    expect(found.vector.length).toBeGreaterThan(0);
    expect(found.fused[0]?.doc_id).toBe("it/laptops.md");
  });

  it("applies tenant and ACL filters to the vector path", async () => {
    const { m, round } = await hybridMemory();
    const a = `${tenant}-a`;
    const b = `${tenant}-b`;
    await m.syncFolder(writeDocs(path.join(tmp, "a"), { "invoices.md": DOCS["finance/invoices.md"]! }), {
      tenantId: a,
    });
    await m.syncFolder(
      writeDocs(path.join(tmp, "b"), {
        "secret-automation.md": "# Automation\n\nAutomation roadmap of tenant B.",
      }),
      { tenantId: b },
    );
    await m.syncFolder(
      writeDocs(path.join(tmp, "restricted"), {
        "board-automation.md": "# Board automation\n\nAutomation budget only the board may read.",
      }),
      { tenantId: a, sourceId: "restricted", defaultAcl: ["group:board"] },
    );
    await round(a);
    await round(b);
    const asker = { tenantId: a, principals: ["anyone", "user:ann@example.com"] };
    const found = await hybridCandidates(m.store, (await m.queryVectors!(a))!, VECTOR_ONLY_QUERY, asker);
    const seen = (rows: ChunkRow[]) => rows.map((r) => `${r.tenant_id}:${r.doc_id}`);
    expect(seen(found.vector)).toEqual([`${a}:invoices.md`]);
    expect(found.vector.every((r) => Array.from(r.acl).includes("anyone"))).toBe(true);
    const result = await m.search(VECTOR_ONLY_QUERY, asker);
    expect(result.hits.map((h) => h.doc.uri)).toEqual(["invoices.md"]);

    // A crafted principal or tenant with quotes is escaped, never a filter that matches more.
    const crafted = await m.search(VECTOR_ONLY_QUERY, {
      tenantId: `${a}' OR tenant_id = '${b}`,
      principals: ["anyone') OR true OR ('x"],
    });
    expect(crafted.hits).toEqual([]);

    const board = await m.search(VECTOR_ONLY_QUERY, { tenantId: a, principals: ["group:board"] });
    expect(board.hits.map((h) => h.doc.uri)).toEqual(["board-automation.md"]);
    const tenantB = await m.search(VECTOR_ONLY_QUERY, { tenantId: b, principals: ["anyone"] });
    expect(tenantB.hits.map((h) => h.doc.uri)).toEqual(["secret-automation.md"]);

    // A sharing change reaches the vectors too: the board document opened to everyone is found
    // by meaning by an ordinary asker, then closed again and not.
    await m.store.setAcl(a, "restricted", "board-automation.md", ["anyone"]);
    const opened = await hybridCandidates(m.store, (await m.queryVectors!(a))!, VECTOR_ONLY_QUERY, asker);
    expect(seen(opened.vector).sort()).toEqual([`${a}:board-automation.md`, `${a}:invoices.md`]);
    await m.store.setAcl(a, "restricted", "board-automation.md", ["group:board"]);
    const closed = await hybridCandidates(m.store, (await m.queryVectors!(a))!, VECTOR_ONLY_QUERY, asker);
    expect(seen(closed.vector)).toEqual([`${a}:invoices.md`]);
  });

  it("a note is found by full text at once and by meaning after the round", async () => {
    const { m, round } = await hybridMemory();
    await m.remember({
      tenantId: tenant,
      text: "The coffee machine descaling happens every Friday.",
      author: "ann",
      acl: ["anyone"],
    });
    expect(fake.calls).toHaveLength(0);
    expect((await m.search("descaling", everyone())).hits[0]?.doc.source).toBe("notes");
    expect((await m.search("machinery", everyone())).hits).toEqual([]);
    await round(tenant);
    const result = await m.search("machinery", everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.source).toBe("notes");
  });

  it("falls back to full-text search when the query cannot be embedded", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round } = await hybridMemory("text-embedding-3-small", { maxRetries: 0 });
    await m.syncFolder(docs, { tenantId: tenant });
    await round(tenant);
    fake.fail({ status: 500 });
    const result = await m.search("parental leave", everyone());
    expect(result.mode).toBe("fts");
    expect(result.hits[0]?.doc.uri).toBe("people/parental-leave.md");
  });
});

describe("embedding failures in a round", () => {
  it("a 429 past the SDK's retries hands the job back with the provider's Retry-After", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round, embeddings } = await hybridMemory("text-embedding-3-small", { maxRetries: 1 });
    await m.syncFolder(docs, { tenantId: tenant });
    fake.fail({ status: 429, retryAfter: "1", times: 2 });
    const err = await round(tenant).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryJobError);
    expect((err as RetryJobError).delayMs).toBe(1000);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 429]);
    expect((await embeddings.spaces.get(tenant)).lastError).toMatch(/429/);
    // Searches never waited and still answer by full text.
    expect((await m.search("parental leave", everyone())).mode).toBe("fts");
    // The retried round completes.
    expect(await round(tenant)).toMatchObject({ status: "ready", switched: true });
    expect((await embeddings.spaces.get(tenant)).lastError).toBeNull();
  });

  it("a 500 fails the round for a retry with backoff; vectors of earlier batches stay", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, embeddings } = await hybridMemory("text-embedding-3-small", { maxRetries: 0 });
    const small = wireEmbeddings(
      db,
      m,
      { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url },
      { batchSize: 2, maxRetries: 0 },
    );
    await m.syncFolder(docs, { tenantId: tenant });
    fake.failInputsContaining("Poison");
    await m.syncFolder(
      writeDocs(path.join(tmp, "docs"), { "z/poison.md": "# Poison\n\nPoison ivy grows here." }),
      {
        tenantId: tenant,
      },
    );
    const err = await small.round(tenant).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmbeddingError);
    expect((err as EmbeddingError).status).toBe(500);
    const building = (await embeddings.spaces.get(tenant)).building!;
    expect(await m.store.vectors.count(building.table, tenant)).toBeGreaterThan(0);
    expect((await embeddings.spaces.get(tenant)).active).toBeUndefined();
  });
});

describe("chunks tables of an earlier Atom", () => {
  /** Writes a chunks table with a `vector` column, as Atom did before per-space vector tables. */
  async function legacyTable(dir: string): Promise<number> {
    const m = await plainMemory();
    await m.syncFolder(dir, { tenantId: tenant });
    const rows = (await m.store.chunks.query().toArray()).map((r) => ({
      ...(r.toJSON() as Record<string, unknown>),
      acl: Array.from(r.acl as Iterable<string>),
      vector: Array.from({ length: 8 }, () => 0.5),
    }));
    open.splice(open.indexOf(m), 1);
    await m.close();
    const conn = await lancedb.connect(path.join(tmp, "lancedb"));
    await conn.createTable("chunks", rows, { mode: "overwrite" });
    conn.close();
    return rows.length;
  }

  it("a table with a vector column is rebuilt without it, chunks kept, then embedded per space", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const chunks = await legacyTable(docs);
    const { m, round } = await hybridMemory("fake-embedding-64");
    expect(m.store.rebuilt).toBe(true);
    expect(hasLegacyVector(await m.store.chunks.schema())).toBe(false);
    expect(await m.store.count()).toBe(chunks);
    expect((await m.search("parental leave", everyone())).hits[0]?.doc.uri).toBe("people/parental-leave.md");
    await round(tenant);
    const result = await m.search(VECTOR_ONLY_QUERY, everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("finance/invoices.md");
  });

  it("a rebuild interrupted after its backup is finished from the backup on the next open", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const chunks = await legacyTable(docs);
    // Simulate a crash mid-rebuild: the backup (chunks without vectors) is complete, the chunks
    // table lost its rows.
    const conn = await lancedb.connect(path.join(tmp, "lancedb"));
    const live = await conn.openTable("chunks");
    const backupRows = await live.query().toArray();
    await conn.createTable(
      REBUILD_TABLE,
      backupRows.map((r) => {
        const { vector: _v, ...rest } = r.toJSON() as Record<string, unknown>;
        return { ...rest, acl: Array.from(r.acl as Iterable<string>) };
      }),
    );
    await live.delete("true");
    live.close();
    conn.close();
    const recovered = await plainMemory();
    expect(recovered.store.rebuilt).toBe(true);
    expect(await recovered.store.count()).toBe(chunks);
    expect(await lancedb.connect(path.join(tmp, "lancedb")).then((c) => c.tableNames())).not.toContain(
      REBUILD_TABLE,
    );
  });
});

describe("store vector checks and fusion", () => {
  it("refuses vectors of the wrong length instead of letting LanceDB pad them", async () => {
    const m = await plainMemory();
    await m.remember({ tenantId: tenant, text: "hello there", author: "ann", acl: ["anyone"] });
    const [chunk] = await m.store.chunkTexts((await m.store.vectorGaps("vectors_8_x", tenant)).missing);
    const space = { table: "vectors_8_x", model: "m", dims: 8 };
    await expect(
      m.store.putVectors(space, [{ id: chunk!.id, hash: chunk!.hash, vector: [1, 2, 3] }]),
    ).rejects.toThrow(/3 dimensions, the table expects 8/);
    // A stale fingerprint (the text changed after embedding) stores nothing.
    expect(
      await m.store.putVectors(space, [{ id: chunk!.id, hash: "stale", vector: new Array(8).fill(0.5) }]),
    ).toBe(0);
    expect(
      await m.store.putVectors(space, [{ id: chunk!.id, hash: chunk!.hash, vector: new Array(8).fill(0.5) }]),
    ).toBe(1);
    expect(await m.store.vectors.count("vectors_8_x", tenant)).toBe(1);
    // The query side refuses a vector of another length instead of asking LanceDB.
    await expect(m.store.vectors.nearest("vectors_8_x", [1, 2], "true", 5)).rejects.toThrow(EmbeddingError);
  });

  it("reciprocal rank fusion rewards chunks both lists rank high", () => {
    const row = (doc: string): ChunkRow =>
      ({ source: "s", doc_id: doc, chunk_index: 0, tenant_id: "t", title: doc, text: doc }) as ChunkRow;
    const fused = reciprocalRankFusion(
      [
        [row("a"), row("b"), row("c")],
        [row("b"), row("d"), row("a")],
      ],
      60,
    );
    expect(fused.map((r) => r.doc_id)).toEqual(["b", "a", "d", "c"]);
    expect(fused[0]!._score).toBeCloseTo(1 / 62 + 1 / 61, 9);
  });
});

describe("queries without a topic", () => {
  it("a query of stop words finds nothing in hybrid mode either", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const { m, round } = await hybridMemory();
    await m.syncFolder(docs, { tenantId: tenant });
    await round(tenant);
    const result = await m.search("what is it?", everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits).toEqual([]);
    expect((await m.search("   ", everyone())).hits).toEqual([]);
  });
});

describe("weighted fusion", () => {
  it("a list's weight scales its contribution", () => {
    const row = (doc: string): ChunkRow =>
      ({ source: "s", doc_id: doc, chunk_index: 0, tenant_id: "t", title: doc, text: doc }) as ChunkRow;
    const lists = [[row("fts-top")], [row("vector-top")]];
    expect(reciprocalRankFusion(lists, 60, [2, 1]).map((r) => r.doc_id)).toEqual(["fts-top", "vector-top"]);
    expect(reciprocalRankFusion(lists, 60, [1, 2]).map((r) => r.doc_id)).toEqual(["vector-top", "fts-top"]);
    expect(reciprocalRankFusion(lists, 60, [2, 1])[0]!._score).toBeCloseTo(2 / 61, 9);
  });
});

describe("score fusion", () => {
  it("adds BM25 over the best BM25 and min-max cosine similarity, with weights", () => {
    const row = (doc: string, extra: Partial<ChunkRow>): ChunkRow =>
      ({
        source: "s",
        doc_id: doc,
        chunk_index: 0,
        tenant_id: "t",
        title: doc,
        text: doc,
        ...extra,
      }) as ChunkRow;
    const fts = [row("a", { _score: 10 }), row("b", { _score: 5 })];
    const vector = [row("b", { _distance: 0.2 }), row("c", { _distance: 0.4 }), row("d", { _distance: 0.6 })];
    const fused = scoreFusion(fts, vector);
    expect(fused.map((r) => [r.doc_id, Number(r._score!.toFixed(3))])).toEqual([
      ["b", 1.5],
      ["a", 1],
      ["c", 0.5],
      ["d", 0],
    ]);
    expect(scoreFusion(fts, vector, 1, 0)[0]!.doc_id).toBe("a");
  });
});
