import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphApi } from "../../src/memory/sources/onedrive/api.ts";
import { fetchTrusting } from "../../src/memory/sources/onedrive/api.ts";
import {
  ANA_MS,
  connectOneDrive,
  type MicrosoftFakes,
  type OneDriveAtom,
  openOneDriveAtom,
  perm,
  startMicrosoftFakes,
  syncAll,
} from "../helpers/onedrive.ts";

const FILES = path.resolve(import.meta.dirname, "../../../shared/corpus/files");
const haveCorpus = fs.existsSync(FILES);
if (!haveCorpus) console.warn(`Office files from OneDrive: skipped, no corpus at ${FILES}`);

/** What Graph delta really does, and Atom's answer to each case (fake Graph v1.0 over https). */
describe("OneDrive delta: deletes, ghosts, duplicates, folders, resync, throttling, download URLs", () => {
  let f: MicrosoftFakes;
  let d: OneDriveAtom;
  const ids: Record<string, string> = {};
  const doc = (itemId: string) => `${f.drive}:${itemId}`;
  const owner = [perm.owner(ANA_MS.upn)];
  const put = (name: string, text: string, parentId?: string) =>
    f.graph.put(f.drive, { name, text, permissions: owner, parentId }).id;
  const docs = async () =>
    new Set(
      (
        await d.atom.db.query<{ doc_id: string }>(
          "SELECT doc_id FROM documents WHERE source_id LIKE 'onedrive:%'",
        )
      ).rows.map((r) => r.doc_id),
    );
  const row = async (itemId: string) =>
    (
      await d.atom.db.query<{ title: string; chunk_count: number }>(
        "SELECT title, chunk_count FROM documents WHERE doc_id = $1",
        [doc(itemId)],
      )
    ).rows[0];
  const hits = async (q: string) =>
    (
      await d.atom.memory.search(q, {
        tenantId: "default",
        principals: ["anyone", "user:ana@contoso.com"],
        limit: 10,
      })
    ).hits.map((h) => h.doc.docId);
  const lastSync = async () => (await d.atom.connections.store.list({ provider: "microsoft" }))[0]!;

  beforeAll(async () => {
    f = await startMicrosoftFakes();
    f.graph.pageSize = 3;
    ids.a = put("alpha.txt", "The albatross report is due on Monday.");
    ids.b = put("beta.txt", "The bison budget is 700 euros.");
    ids.folder = f.graph.put(f.drive, { name: "Team", folder: true, permissions: [] }).id;
    ids.sub = f.graph.put(f.drive, { name: "Sub", folder: true, permissions: [], parentId: ids.folder }).id;
    ids.c = put("gamma.txt", "The camel meeting is on Friday.", ids.folder);
    ids.e = put("epsilon.txt", "The eagle roadmap has four milestones.", ids.sub);
    ids.g = put("ghost.txt", "The gecko notes are about to vanish.");
    d = await openOneDriveAtom(f);
    await connectOneDrive(d.atom, f);
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await f?.close();
  });

  it("first sync pages through nextLinks and stores the deltaLink", async () => {
    expect(await docs()).toEqual(new Set([ids.a, ids.b, ids.c, ids.e, ids.g].map((x) => doc(x!))));
    expect(f.graph.callsTo(/\/root\/delta$/).length).toBeGreaterThan(2);
  });

  it("an item with a deleted facet and no name is removed by id", async () => {
    f.graph.remove(f.drive, ids.b!);
    await syncAll(d.atom);
    expect((await docs()).has(doc(ids.b!))).toBe(false);
    expect(await hits("bison budget")).toEqual([]);
  });

  it("a ghost item (listed, then 404 on follow-up) is treated as removed; the sync goes on", async () => {
    f.graph.touch(f.drive, ids.g!);
    f.graph.vanish(f.drive, ids.g!);
    const fresh = put("delta.txt", "The dolphin survey closes in May.");
    await syncAll(d.atom);
    const now = await docs();
    expect(now.has(doc(ids.g!))).toBe(false);
    expect(now.has(doc(fresh))).toBe(true);
    expect((await lastSync()).lastError).toBeNull();
  });

  it("an item repeated within one delta keeps its last state", async () => {
    f.graph.put(f.drive, {
      id: ids.a,
      name: "alpha-draft.txt",
      text: "The albatross report is due on Monday.",
      permissions: owner,
    });
    f.graph.put(f.drive, {
      id: ids.a,
      name: "alpha-final.txt",
      text: "The albatross report is due on Wednesday.",
      permissions: owner,
    });
    await syncAll(d.atom);
    expect((await row(ids.a!))?.title).toBe("alpha-final.txt");
    const again = put("zeta.txt", "The zebra plan is short-lived.");
    await syncAll(d.atom);
    f.graph.edit(f.drive, again, "The zebra plan changed.");
    f.graph.remove(f.drive, again);
    await syncAll(d.atom);
    expect((await docs()).has(doc(again))).toBe(false);
  });

  it("a deleted folder removes every document below it (Graph reports only the folder)", async () => {
    f.graph.remove(f.drive, ids.folder!);
    const before = f.graph.calls.length;
    await syncAll(d.atom);
    const delta = f.graph.calls.slice(before).filter((c) => c.path.endsWith("/root/delta"));
    expect(delta.length).toBe(1);
    const now = await docs();
    expect(now.has(doc(ids.c!))).toBe(false);
    expect(now.has(doc(ids.e!))).toBe(false);
    expect(await hits("eagle roadmap milestones")).toEqual([]);
  });

  it("410 resyncRequired → full enumeration; the old index answers until the new listing is written; gone documents removed after", async () => {
    const keep = put("kappa.txt", "The koala handbook covers onboarding.");
    await syncAll(d.atom);
    // Removed while the delta token is forgotten: only a full listing can tell.
    f.graph.vanish(f.drive, keep);
    f.graph.expireDeltaTokens(f.drive);
    let during: string[] = [];
    // While the new enumeration is under way (its second page), the old index still answers.
    f.graph.beforeNext(/\/root\/delta$/, () => {
      f.graph.beforeNext(/\/root\/delta$/, async () => {
        during = await hits("koala handbook onboarding");
      });
    });
    await syncAll(d.atom);
    expect(f.graph.calls.some((c) => c.status === 410)).toBe(true);
    expect(during).toContain(doc(keep));
    expect((await docs()).has(doc(keep))).toBe(false);
    expect(await hits("koala handbook onboarding")).toEqual([]);
    expect((await docs()).has(doc(ids.a!))).toBe(true);
    expect((await lastSync()).lastError).toBeNull();
  });

  it("429 `retry-after: 3` (lower case), 429 without the header, 503 `Retry-After: 1`: waits as told, backs off otherwise", async () => {
    d.sleeps.length = 0;
    f.graph.fault({ path: /\/root\/delta$/, status: 429, retryAfter: "3", headerName: "retry-after" });
    f.graph.fault({ path: /\/root\/delta$/, status: 429 });
    f.graph.fault({ path: /\/root\/delta$/, status: 503, retryAfter: "1", headerName: "Retry-After" });
    put("theta.txt", "The tapir schedule starts at eight.");
    await syncAll(d.atom);
    expect(d.sleeps[0]).toBe(3000);
    // No header on the second attempt: exponential backoff with jitter, between half and all of 2 s.
    expect(d.sleeps[1]).toBeGreaterThanOrEqual(1000);
    expect(d.sleeps[1]).toBeLessThanOrEqual(2000);
    expect(d.sleeps[2]).toBe(1000);
    expect(await hits("tapir schedule")).toHaveLength(1);
  });

  it("throttling lowers the number of Graph requests in flight", async () => {
    const token = f.login.delegatedTokens().find((t) => f.login.verify(t));
    expect(token).toBeDefined();
    const api = new GraphApi({
      apiUrl: f.graph.url,
      tokens: { get: async () => token!, refreshAfter: async () => token! },
      concurrency: 8,
      retry: { sleep: async () => {} },
      fetch: fetchTrusting(f.graph.ca),
    });
    f.graph.fault({ path: /^\/v1\.0\/me$/, status: 429, retryAfter: "0", times: 3 });
    await Promise.all(Array.from({ length: 8 }, () => api.call("me", (c) => c.api("/me").get())));
    expect(api.limit.lowest).toBeLessThanOrEqual(2);
  });

  it("content comes from the downloadUrl without an Authorization header (the fake refuses one with 403)", async () => {
    const withAuth = f.graph.calls.filter((c) => c.path.startsWith("/download/") && c.authorized);
    expect(withAuth).toEqual([]);
    const it = await fetchTrusting(f.graph.ca)(`${f.graph.url}/v1.0/me`, {
      headers: { authorization: `Bearer ${f.login.delegatedTokens().find((t) => f.login.verify(t))}` },
    });
    expect(it.status).toBe(200);
  });

  it("an expired download URL (401) is asked for again and the file is indexed", async () => {
    const id = put("iota.txt", "The ibis inventory lists twelve items.");
    f.graph.beforeNext(/^\/download\//, () => f.graph.expireDownloadUrls());
    const before = f.graph.calls.length;
    await syncAll(d.atom);
    const calls = f.graph.calls.slice(before);
    expect(calls.filter((c) => c.path.startsWith("/download/")).map((c) => c.status)).toEqual([401, 200]);
    expect(calls.some((c) => c.path.endsWith(`/items/${id}`) && c.status === 200)).toBe(true);
    expect(await hits("ibis inventory")).toEqual([doc(id)]);
  });

  it.skipIf(!haveCorpus)(
    "Office files (xlsx, pptx) from OneDrive are extracted as local files are",
    async () => {
      const xlsx = f.graph.put(f.drive, {
        name: "stanley-cups.xlsx",
        content: fs.readFileSync(path.join(FILES, "stanley-cups.xlsx")),
        permissions: owner,
      }).id;
      const pptx = f.graph.put(f.drive, {
        name: "sample-presentation.pptx",
        content: fs.readFileSync(path.join(FILES, "sample-presentation.pptx")),
        permissions: owner,
      }).id;
      await syncAll(d.atom);
      expect(await hits("Maple Leafs Stanley Cups TOR")).toContain(doc(xlsx));
      const text = (
        await d.atom.memory.store.chunks
          .query()
          .where(`doc_id = '${doc(pptx)}'`)
          .select(["text"])
          .toArray()
      )
        .map((r) => String(r.text))
        .join("\n");
      expect(text).toContain("With a subtitle");
    },
  );
});
