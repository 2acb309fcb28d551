import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentFilter } from "../../src/memory/store.ts";
import type { SyncOptions } from "../../src/memory/sync.ts";
import {
  FILES_DIR,
  HANDBOOK_DIR,
  HAS_FILES,
  HAS_HANDBOOK,
  openTestMemory,
  type TestMemory,
  tempDir,
  testBackends,
} from "../helpers/memory.ts";

const TENANT = "acme";
const SOURCE = "folder:test";

interface DocRow {
  doc_id: string;
  version: string;
  content_hash: string;
  chunk_count: number;
  indexed_at: string;
}

describe.each(testBackends())("incremental folder sync ($name)", (backend) => {
  let t: TestMemory;
  let folder: string;
  const file = (rel: string) => path.join(folder, rel);
  /** Writes a file with an explicit mtime, so a rewrite within one millisecond is still a change. */
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(file(rel)), { recursive: true });
    fs.writeFileSync(file(rel), text);
    clock += 60_000;
    fs.utimesSync(file(rel), new Date(clock), new Date(clock));
  };
  const sync = (opts: Partial<SyncOptions> = {}) =>
    t.memory.syncFolder(folder, { tenantId: TENANT, sourceId: SOURCE, ...opts });
  const docs = async (): Promise<Map<string, DocRow>> => {
    const r = await t.db.query<DocRow>(
      `SELECT doc_id, version, content_hash, chunk_count, indexed_at::text AS indexed_at
       FROM documents WHERE tenant_id = $1 AND source_id = $2`,
      [TENANT, SOURCE],
    );
    return new Map(r.rows.map((d) => [d.doc_id, d]));
  };
  const chunks = async (docId: string) =>
    (
      await t.memory.store.chunks
        .query()
        .where(documentFilter(TENANT, SOURCE, docId))
        .select(["id", "chunk_index", "text", "headings"])
        .toArray()
    )
      .map((r) => ({ id: String(r.id), index: Number(r.chunk_index), text: String(r.text) }))
      .sort((a, b) => a.index - b.index);
  const found = async (query: string) =>
    (await t.memory.search(query, { tenantId: TENANT, principals: ["anyone"], limit: 10 })).hits.map(
      (h) => h.doc.docId,
    );

  beforeAll(async () => {
    t = await openTestMemory(backend);
    folder = tempDir("atom-sync-");
    write(
      "a.md",
      "# Alpha\n\nThe alpha document talks about albatross migration.\n\n## Details\n\nMore albatross facts.",
    );
    write("b.md", "# Bravo\n\nBravo covers the bison herd and its grazing.");
    write("c.md", "# Charlie\n\nCharlie is about the chameleon colour change.");
    write("sub/notes.txt", "Dolphin notes: pods travel together.");
    write("image.png", "not really a png");
    write(".hidden.md", "# Hidden\n\nShould never be indexed.");
  });
  afterAll(async () => {
    await t?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  it("indexes every supported file on the first sync and reports unsupported ones", async () => {
    const s = await sync();
    expect(s).toMatchObject({ scanned: 5, added: 4, updated: 0, unchanged: 0, deleted: 0, errors: [] });
    expect(s.skipped).toEqual([{ path: "image.png", reason: "unsupported file type .png" }]);
    const d = await docs();
    expect([...d.keys()].sort()).toEqual(["a.md", "b.md", "c.md", "sub/notes.txt"]);
    expect((await chunks("a.md")).map((c) => c.id)).toEqual([
      `${TENANT}/${SOURCE}/a.md#0`,
      `${TENANT}/${SOURCE}/a.md#1`,
    ]);
    expect(d.get("a.md")!.chunk_count).toBe(2);
    expect(s.chunks).toBe([...d.values()].reduce((n, x) => n + x.chunk_count, 0));
    expect(await found("albatross")).toEqual(["a.md"]);
    expect(await found("hidden")).toEqual([]);
    const [status] = await t.memory.status(TENANT);
    expect(status).toMatchObject({ sourceId: SOURCE, kind: "folder", documents: 4, lastStatus: "ok" });
  });

  it("does not re-extract unchanged files", async () => {
    const before = await docs();
    const chunksBefore = await chunks("b.md");
    const s = await sync();
    expect(s).toMatchObject({ added: 0, updated: 0, unchanged: 4, deleted: 0, chunks: 0, errors: [] });
    expect(await docs()).toEqual(before);
    expect(await chunks("b.md")).toEqual(chunksBefore);
  });

  it("replaces exactly the chunks of a changed file", async () => {
    const before = await docs();
    const others = { b: await chunks("b.md"), c: await chunks("c.md"), d: await chunks("sub/notes.txt") };
    write("a.md", "# Alpha\n\nThe alpha document now talks about axolotl breeding only.");
    const s = await sync();
    expect(s).toMatchObject({ added: 0, updated: 1, unchanged: 3, deleted: 0, errors: [] });
    const a = await chunks("a.md");
    expect(a).toHaveLength(1);
    expect(a[0]!.text).toContain("axolotl");
    expect(await found("axolotl")).toEqual(["a.md"]);
    expect(await found("albatross")).toEqual([]);
    expect(await chunks("b.md")).toEqual(others.b);
    expect(await chunks("c.md")).toEqual(others.c);
    expect(await chunks("sub/notes.txt")).toEqual(others.d);
    const after = await docs();
    expect(after.get("a.md")!.content_hash).not.toBe(before.get("a.md")!.content_hash);
    expect(after.get("a.md")!.chunk_count).toBe(1);
    for (const id of ["b.md", "c.md", "sub/notes.txt"]) expect(after.get(id)).toEqual(before.get(id));
  });

  it("does not re-chunk a touched file whose bytes are the same", async () => {
    const before = await docs();
    const chunksBefore = await chunks("b.md");
    clock += 60_000;
    fs.utimesSync(file("b.md"), new Date(clock), new Date(clock));
    const s = await sync();
    expect(s).toMatchObject({ added: 0, updated: 0, unchanged: 4, deleted: 0, chunks: 0 });
    const after = await docs();
    expect(after.get("b.md")!.version).not.toBe(before.get("b.md")!.version);
    expect(after.get("b.md")!.indexed_at).toBe(before.get("b.md")!.indexed_at);
    expect(await chunks("b.md")).toEqual(chunksBefore);
    // The new version is remembered: the next sync does not even read the file.
    expect(await sync()).toMatchObject({ unchanged: 4, updated: 0 });
  });

  it("removes a deleted file's chunks and row", async () => {
    fs.rmSync(file("c.md"));
    const s = await sync();
    expect(s).toMatchObject({ added: 0, updated: 0, deleted: 1, unchanged: 3 });
    expect(await chunks("c.md")).toEqual([]);
    expect((await docs()).has("c.md")).toBe(false);
    expect(await found("chameleon")).toEqual([]);
    expect(await t.memory.store.count(`doc_id = 'c.md'`)).toBe(0);
  });

  it("follows a renamed file: old path gone, new path findable", async () => {
    fs.mkdirSync(file("archive"), { recursive: true });
    fs.renameSync(file("sub/notes.txt"), file("archive/dolphin-notes.txt"));
    const s = await sync();
    expect(s).toMatchObject({ added: 1, deleted: 1, updated: 0 });
    expect(await chunks("sub/notes.txt")).toEqual([]);
    expect((await chunks("archive/dolphin-notes.txt"))[0]!.text).toContain("pods travel together");
    expect(await found("dolphin pods")).toEqual(["archive/dolphin-notes.txt"]);
    const d = await docs();
    expect(d.has("sub/notes.txt")).toBe(false);
    expect(d.has("archive/dolphin-notes.txt")).toBe(true);
  });

  it.runIf(HAS_FILES)("reports an unreadable file with its reason and still syncs the rest", async () => {
    fs.copyFileSync(path.join(FILES_DIR, "broken-truncated.pdf"), file("broken-truncated.pdf"));
    write("e.md", "# Echo\n\nEcho describes the emu.");
    const s = await sync();
    expect(s.added).toBe(1);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]!.path).toBe("broken-truncated.pdf");
    expect(s.errors[0]!.reason.length).toBeGreaterThan(5);
    expect(s.errors[0]!.reason).not.toMatch(/\n|at .*\.ts:\d+/);
    expect(await found("emu")).toEqual(["e.md"]);
    expect((await docs()).has("broken-truncated.pdf")).toBe(false);
    const [status] = await t.memory.status(TENANT);
    expect(status!.lastStatus).toBe("partial");
    expect(status!.lastError).toMatch(/1 file/);
    // Still unreadable next time: reported again, nothing else touched.
    const again = await sync();
    expect(again).toMatchObject({ added: 0, updated: 0, deleted: 0 });
    expect(again.errors.map((e) => e.path)).toEqual(["broken-truncated.pdf"]);
  });

  it("does not store chunks twice when an earlier sync wrote them but lost its state", async () => {
    write("f.md", "# Foxtrot\n\nFoxtrot is about the fennec fox.");
    await sync();
    const before = await chunks("f.md");
    expect(before).toHaveLength(1);
    // As if the process died after writing chunks, before the documents row was committed.
    await t.db.query("DELETE FROM documents WHERE tenant_id = $1 AND source_id = $2 AND doc_id = 'f.md'", [
      TENANT,
      SOURCE,
    ]);
    const s = await sync();
    expect(s.added).toBe(1);
    expect(await chunks("f.md")).toEqual(before);
    expect(await found("fennec")).toEqual(["f.md"]);
  });

  it("handles file names with quotes and backslashes through add, change and delete", async () => {
    const odd = `it's "odd" \\ name' OR '1'='1.md`;
    write(odd, "# Odd\n\nThe ocelot hides here.");
    expect((await sync()).added).toBe(1);
    expect(await found("ocelot")).toEqual([odd]);
    write(odd, "# Odd\n\nNow the okapi hides here instead.");
    expect((await sync()).updated).toBe(1);
    expect(await found("okapi")).toEqual([odd]);
    expect(await found("ocelot")).toEqual([]);
    fs.rmSync(file(odd));
    expect((await sync()).deleted).toBe(1);
    expect(await chunks(odd)).toEqual([]);
    expect(await found("okapi")).toEqual([]);
  });

  it("keeps other sources and tenants apart when syncing the same folder", async () => {
    const other = await t.memory.syncFolder(folder, { tenantId: "other-tenant", sourceId: SOURCE });
    expect(other.added).toBeGreaterThan(0);
    fs.rmSync(file("a.md"));
    await sync();
    expect(await chunks("a.md")).toEqual([]);
    // The other tenant's copy of a.md is untouched by this tenant's deletion.
    expect(await t.memory.store.count(documentFilter("other-tenant", SOURCE, "a.md"))).toBe(1);
  });
});

describe.runIf(HAS_HANDBOOK)("incremental sync of the real handbook", () => {
  let t: TestMemory;
  beforeAll(async () => {
    t = await openTestMemory();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("re-syncs an unchanged handbook at least 10× faster than the first sync", async () => {
    let started = performance.now();
    const first = await t.memory.syncFolder(HANDBOOK_DIR, { tenantId: "hb" });
    const firstMs = performance.now() - started;
    expect(first.added).toBeGreaterThan(800);
    expect(first.errors).toEqual([]);
    const indexed = await t.db.query<{ m: string }>("SELECT max(indexed_at)::text AS m FROM documents");

    started = performance.now();
    const second = await t.memory.syncFolder(HANDBOOK_DIR, { tenantId: "hb" });
    const secondMs = performance.now() - started;
    expect(second).toMatchObject({ added: 0, updated: 0, deleted: 0, chunks: 0, unchanged: first.added });
    expect(
      (await t.db.query<{ m: string }>("SELECT max(indexed_at)::text AS m FROM documents")).rows[0]!.m,
    ).toBe(indexed.rows[0]!.m);
    expect(firstMs / secondMs).toBeGreaterThanOrEqual(10);
    const hits = await t.memory.search("home office budget", { tenantId: "hb", principals: ["anyone"] });
    expect(hits.hits.length).toBeGreaterThan(0);
  });
});

if (!HAS_HANDBOOK) console.warn(`skipping handbook sync tests: ${HANDBOOK_DIR} is absent`);
if (!HAS_FILES) console.warn(`skipping broken-file sync test: ${FILES_DIR} is absent`);
