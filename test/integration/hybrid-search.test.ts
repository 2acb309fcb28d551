/**
 * Hybrid memory with the real `openai` SDK against the fake `/v1/embeddings`: sync embeds chunks,
 * search fuses full-text and vector candidates under the same tenant and ACL filters, a model
 * change rebuilds the table without a dimension crash, embedding failures are reported per
 * document, and without a key memory stays full-text only.
 */
import fs from "node:fs";
import * as lancedb from "@lancedb/lancedb";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { createAtom } from "../../src/main.ts";
import { createOpenAiEmbedder, type Embedder } from "../../src/memory/embed.ts";
import { hybridCandidates, reciprocalRankFusion, scoreFusion } from "../../src/memory/hybrid.ts";
import { type Memory, openMemory } from "../../src/memory/memory.ts";
import { searchChunks } from "../../src/memory/search.ts";
import { type ChunkRow, ChunkStore, REBUILD_TABLE, recordedVector } from "../../src/memory/store.ts";
import { silentLogger } from "../../src/observability/logger.ts";
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

function embedder(model = "text-embedding-3-small", extra: { maxRetries?: number } = {}): Promise<Embedder> {
  return createOpenAiEmbedder({ apiKey: fake.apiKey, baseURL: fake.url, model, ...extra });
}

async function memoryWith(e: Embedder | undefined): Promise<Memory> {
  const m = await openMemory({ db, uri: path.join(tmp, "lancedb"), logger: silentLogger, embedder: e });
  open.push(m);
  return m;
}

async function closeMemory(m: Memory): Promise<void> {
  open.splice(open.indexOf(m), 1);
  await m.close();
}

/** Search options of someone who may read what everyone in the test's tenant may read. */
const everyone = () => ({ tenantId: tenant, principals: ["anyone"] });

describe("no embedder configured", () => {
  it("memory is full-text only: no vector column, mode fts, same results as full-text search", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(undefined);
    await m.syncFolder(docs, { tenantId: tenant });
    expect(recordedVector(await m.store.chunks.schema())).toBeUndefined();
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

describe("hybrid search with an embedder", () => {
  it("sync embeds chunks (batched across documents) and records model and dimension", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder());
    const summary = await m.syncFolder(docs, { tenantId: tenant });
    expect(summary.errors).toEqual([]);
    expect(summary.added).toBe(4);
    expect(fake.calls.filter((c) => c.status === 200)).toHaveLength(1); // one request for all four documents
    expect(fake.calls[0]!.encodingFormat).toBe("float");
    expect(recordedVector(await m.store.chunks.schema())).toEqual({
      model: "text-embedding-3-small",
      dims: 1536,
    });
    expect(await m.store.count("vector IS NULL")).toBe(0);
    expect(await m.store.count()).toBeGreaterThanOrEqual(4);
  });

  it("finds a document only the vectors match, in mode hybrid", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder());
    await m.syncFolder(docs, { tenantId: tenant });
    // Full-text search alone finds nothing for this query on the same table…
    expect((await searchChunks(m.store, VECTOR_ONLY_QUERY, everyone())).hits).toEqual([]);
    // …hybrid search finds the invoice document by meaning (shared word parts in the fake's space).
    const result = await m.search(VECTOR_ONLY_QUERY, everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("finance/invoices.md");
    expect(result.hits[0]!.confidence).toBeGreaterThan(0);
    expect(result.hits[0]!.best.text).toContain("automation");
  });

  it("still ranks exact full-text matches first when both lists agree", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder());
    await m.syncFolder(docs, { tenantId: tenant });
    const result = await m.search("broken laptop replaced", everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("it/laptops.md");
    const found = await hybridCandidates(m.store, m.embedder!, "broken laptop replaced", everyone());
    expect(found.fts.length).toBeGreaterThan(0);
    expect(found.vector.length).toBeGreaterThan(0);
    expect(found.fused[0]?.doc_id).toBe("it/laptops.md");
  });

  it("applies tenant and ACL filters to the vector path", async () => {
    const m = await memoryWith(await embedder());
    await m.syncFolder(writeDocs(path.join(tmp, "a"), { "invoices.md": DOCS["finance/invoices.md"]! }), {
      tenantId: `${tenant}-a`,
    });
    await m.syncFolder(
      writeDocs(path.join(tmp, "b"), {
        "secret-automation.md": "# Automation\n\nAutomation roadmap of tenant B.",
      }),
      { tenantId: `${tenant}-b` },
    );
    await m.syncFolder(
      writeDocs(path.join(tmp, "restricted"), {
        "board-automation.md": "# Board automation\n\nAutomation budget only the board may read.",
      }),
      { tenantId: `${tenant}-a`, sourceId: "restricted", defaultAcl: ["group:board"] },
    );
    const asker = { tenantId: `${tenant}-a`, principals: ["anyone", "user:ann@example.com"] };
    const found = await hybridCandidates(m.store, m.embedder!, VECTOR_ONLY_QUERY, asker);
    const seen = (rows: ChunkRow[]) => rows.map((r) => `${r.tenant_id}:${r.doc_id}`);
    expect(seen(found.vector)).toEqual([`${tenant}-a:invoices.md`]);
    expect(found.vector.every((r) => Array.from(r.acl).includes("anyone"))).toBe(true);
    const result = await m.search(VECTOR_ONLY_QUERY, asker);
    expect(result.hits.map((h) => h.doc.uri)).toEqual(["invoices.md"]);

    // A crafted principal or tenant with quotes is escaped, never a filter that matches more.
    const crafted = await m.search(VECTOR_ONLY_QUERY, {
      tenantId: `${tenant}-a' OR tenant_id = '${tenant}-b`,
      principals: ["anyone') OR true OR ('x"],
    });
    expect(crafted.hits).toEqual([]);

    const board = await m.search(VECTOR_ONLY_QUERY, { tenantId: `${tenant}-a`, principals: ["group:board"] });
    expect(board.hits.map((h) => h.doc.uri)).toEqual(["board-automation.md"]);
    const tenantB = await m.search(VECTOR_ONLY_QUERY, { tenantId: `${tenant}-b`, principals: ["anyone"] });
    expect(tenantB.hits.map((h) => h.doc.uri)).toEqual(["secret-automation.md"]);
  });

  it("remember embeds the note so it is found by meaning", async () => {
    const m = await memoryWith(await embedder());
    await m.remember({
      tenantId: tenant,
      text: "The coffee machine descaling happens every Friday.",
      author: "ann",
      acl: ["anyone"],
    });
    expect(await m.store.count("vector IS NULL")).toBe(0);
    expect((await searchChunks(m.store, "machinery", everyone())).hits).toEqual([]);
    const result = await m.search("machinery", everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.source).toBe("notes");
  });

  it("falls back to full-text search when the query cannot be embedded", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder("text-embedding-3-small", { maxRetries: 0 }));
    await m.syncFolder(docs, { tenantId: tenant });
    fake.fail({ status: 500 });
    const result = await m.search("parental leave", everyone());
    expect(result.mode).toBe("fts");
    expect(result.hits[0]?.doc.uri).toBe("people/parental-leave.md");
  });
});

describe("embedding failures and retries during sync", () => {
  it("a 429 with Retry-After is retried and the sync succeeds", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder());
    fake.fail({ status: 429, retryAfterMs: "30", retryAfter: "1" });
    const summary = await m.syncFolder(docs, { tenantId: tenant });
    expect(summary.errors).toEqual([]);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 200]);
    expect(await m.store.count("vector IS NULL")).toBe(0);
  });

  it("a document whose embedding fails is an error in the summary and keeps its old version", async () => {
    const dir = writeDocs(path.join(tmp, "docs"), DOCS);
    const m = await memoryWith(await embedder("text-embedding-3-small", { maxRetries: 1 }));
    await m.syncFolder(dir, { tenantId: tenant });
    fs.writeFileSync(path.join(dir, "office/plants.md"), "# Office plants\n\nPoisonous plants were removed.");
    fake.failInputsContaining("Poisonous");
    const summary = await m.syncFolder(dir, { tenantId: tenant });
    expect(summary.errors).toEqual([
      { path: "office/plants.md", reason: expect.stringMatching(/embedding failed/) },
    ]);
    expect(summary.added).toBe(0);
    expect(summary.updated).toBe(0);
    // The old version is still what memory holds…
    const old = await m.search("watered Mondays", everyone());
    expect(old.hits[0]?.doc.uri).toBe("office/plants.md");
    // …and the next sync, with the provider healthy again, replaces it.
    fake.failInputsContaining(undefined);
    const again = await m.syncFolder(dir, { tenantId: tenant });
    expect(again.errors).toEqual([]);
    expect(again.updated).toBe(1);
    expect((await m.search("poisonous plants removed", everyone())).hits[0]?.best.text).toContain(
      "Poisonous",
    );
  });
});

describe("model changes", () => {
  it("a new dimension rebuilds the table and re-embeds on the next sync, never a dimension crash", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const first = await memoryWith(await embedder("text-embedding-3-small"));
    await first.syncFolder(docs, { tenantId: tenant });
    await first.remember({
      tenantId: tenant,
      text: "Descaling is on Fridays.",
      author: "ann",
      acl: ["anyone"],
    });
    const chunks = await first.store.count();
    await closeMemory(first);

    const second = await memoryWith(await embedder("fake-embedding-64"));
    expect(second.embedder!.dims).toBe(64);
    expect(second.store.rebuilt).toBe(true);
    expect(recordedVector(await second.store.chunks.schema())).toEqual({
      model: "fake-embedding-64",
      dims: 64,
    });
    expect(await second.store.count()).toBe(chunks); // chunks kept, including the note
    expect(await second.store.count("vector IS NULL")).toBe(chunks);
    // Full-text search works right away; the next sync fills in every vector.
    expect((await second.search("parental leave", everyone())).hits[0]?.doc.uri).toBe(
      "people/parental-leave.md",
    );
    const summary = await second.syncFolder(docs, { tenantId: tenant });
    expect(summary.errors).toEqual([]);
    expect(summary.unchanged).toBe(4);
    expect(await second.store.count("vector IS NULL")).toBe(0);
    const result = await second.search(VECTOR_ONLY_QUERY, everyone());
    expect(result.mode).toBe("hybrid");
    expect(result.hits[0]?.doc.uri).toBe("finance/invoices.md");
    expect((await second.search("machinery", everyone())).hits[0]?.doc.source).toBe("notes");
  });

  it("another model of the same dimension also re-embeds", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const first = await memoryWith(await embedder("text-embedding-3-small"));
    await first.syncFolder(docs, { tenantId: tenant });
    await closeMemory(first);
    const same = await memoryWith(await embedder("text-embedding-3-small"));
    expect(same.store.rebuilt).toBe(false);
    await closeMemory(same);
    const ada = await memoryWith(await embedder("text-embedding-ada-002"));
    expect(ada.store.rebuilt).toBe(true);
    expect(recordedVector(await ada.store.chunks.schema())).toEqual({
      model: "text-embedding-ada-002",
      dims: 1536,
    });
    fake.reset();
    await ada.syncFolder(docs, { tenantId: tenant });
    expect(fake.calls.every((c) => c.model === "text-embedding-ada-002")).toBe(true);
    expect(await ada.store.count("vector IS NULL")).toBe(0);
  });

  it("a rebuild interrupted after its backup is finished from the backup on the next open", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const first = await memoryWith(await embedder());
    await first.syncFolder(docs, { tenantId: tenant });
    const chunks = await first.store.count();
    await closeMemory(first);
    // Simulate a crash mid-rebuild: the backup (chunks without vectors) is complete, the chunks
    // table lost its rows.
    const conn = await lancedb.connect(path.join(tmp, "lancedb"));
    const live = await conn.openTable("chunks");
    const backupRows = await live.query().toArray();
    expect(backupRows).toHaveLength(chunks);
    await conn.createTable(
      REBUILD_TABLE,
      backupRows.map((r) => {
        const { vector: _v, ...rest } = r.toJSON() as Record<string, unknown>;
        return { ...rest, acl: Array.from(r.acl as Iterable<string>) };
      }),
    );
    await live.delete("true");
    expect(await live.countRows()).toBe(0);
    live.close();
    conn.close();
    const recovered = await memoryWith(await embedder("fake-embedding-64"));
    expect(recovered.store.rebuilt).toBe(true);
    expect(await recovered.store.count()).toBe(chunks);
    expect(await lancedb.connect(path.join(tmp, "lancedb")).then((c) => c.tableNames())).not.toContain(
      REBUILD_TABLE,
    );
    await recovered.syncFolder(docs, { tenantId: tenant });
    expect((await recovered.search(VECTOR_ONLY_QUERY, everyone())).hits[0]?.doc.uri).toBe(
      "finance/invoices.md",
    );
  });

  it("removing the key keeps the chunks and drops the vector column", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const first = await memoryWith(await embedder());
    await first.syncFolder(docs, { tenantId: tenant });
    const chunks = await first.store.count();
    await closeMemory(first);
    const plain = await memoryWith(undefined);
    expect(plain.store.rebuilt).toBe(true);
    expect(recordedVector(await plain.store.chunks.schema())).toBeUndefined();
    expect(await plain.store.count()).toBe(chunks);
    const result = await plain.search("parental leave", everyone());
    expect(result.mode).toBe("fts");
    expect(result.hits[0]?.doc.uri).toBe("people/parental-leave.md");
  });
});

describe("store vector checks and fusion", () => {
  it("refuses vectors of the wrong length instead of letting LanceDB pad them", async () => {
    const store = await ChunkStore.open(path.join(tmp, "lance-check"), { model: "m", dims: 8 });
    const meta = {
      tenantId: tenant,
      source: "s",
      docId: "d",
      title: "T",
      uri: "d.md",
      mime: "text/markdown",
      modifiedAt: 0,
      acl: ["anyone"],
    };
    const chunks = [{ chunkIndex: 0, headings: [], text: "hello" }];
    await expect(store.replaceDocument(meta, chunks, [[1, 2, 3]])).rejects.toThrow(
      /3 dimensions, the table expects 8/,
    );
    await expect(store.addRows([{ meta, chunks, vectors: [new Array(9).fill(0)] }])).rejects.toThrow(
      /expects 8/,
    );
    await expect(store.setVectors([{ id: "x", vector: [1] }])).rejects.toThrow(/expects 8/);
    await store.replaceDocument(meta, chunks, [new Array(8).fill(0.5)]);
    expect(await store.count("vector IS NOT NULL")).toBe(1);
    await store.close();
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
    const m = await memoryWith(await embedder());
    await m.syncFolder(docs, { tenantId: tenant });
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

describe("composition from the environment", () => {
  it("OPENAI_API_KEY turns on hybrid search in createAtom (no key: see the first test)", async () => {
    const docs = writeDocs(path.join(tmp, "docs"), DOCS);
    const base = { ATOM_DATA_DIR: path.join(tmp, "data"), LOG_LEVEL: "silent" };
    const withKey = await createAtom(
      loadConfig({ ...base, OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url }),
      { adapters: false, logger: silentLogger },
    );
    try {
      expect(withKey.memory.embedder?.model).toBe("text-embedding-3-small");
      await withKey.memory.syncFolder(docs, { tenantId: "default" });
      const result = await withKey.memory.search(VECTOR_ONLY_QUERY, {
        tenantId: "default",
        principals: ["anyone"],
      });
      expect(result.mode).toBe("hybrid");
      expect(result.hits[0]?.doc.uri).toBe("finance/invoices.md");
    } finally {
      await withKey.close();
    }
  });
});
