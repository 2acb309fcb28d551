import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListingPage, Source, SourceContent, SourceEntry } from "../../src/memory/sources/types.ts";
import { aclFilter, eq, sqlString } from "../../src/memory/store.ts";
import { searchFilter } from "../../src/memory/search.ts";
import type { Principal } from "../../src/memory/types.ts";
import { principalsFor } from "../../src/security/permissions.ts";
import { openTestMemory, type TestMemory, tempDir } from "../helpers/memory.ts";

/** An in-memory source whose documents carry their own ACLs (as Drive or OneDrive files do). */
class FixedSource implements Source {
  readonly kind = "test";
  readonly label = "Test source";
  constructor(
    readonly id: string,
    private readonly docs: { docId: string; text: string; acl?: Principal[] }[],
  ) {}
  async *list(): AsyncIterable<ListingPage> {
    const entries: SourceEntry[] = this.docs.map((d) => ({
      docId: d.docId,
      name: d.docId,
      uri: d.docId,
      version: String(d.text.length),
      modifiedAt: 1_700_000_000_000,
      size: d.text.length,
      acl: d.acl,
    }));
    yield { entries };
  }
  async fetch(entry: SourceEntry): Promise<SourceContent> {
    return { bytes: Buffer.from(this.docs.find((d) => d.docId === entry.docId)!.text), fileName: entry.name };
  }
}

const ANY = ["anyone"];

describe("memory search", () => {
  let t: TestMemory;
  let folder: string;
  const ids = async (query: string, tenantId: string, principals: Principal[] = ANY, sources?: string[]) =>
    (await t.memory.search(query, { tenantId, principals, sources, limit: 10 })).hits.map((h) => h.doc.docId);

  beforeAll(async () => {
    t = await openTestMemory();
    folder = tempDir("atom-search-");
    fs.writeFileSync(path.join(folder, "first.md"), "# Flamingo\n\nThe flamingo stands on one leg.");
    fs.writeFileSync(path.join(folder, "second.md"), "# Gazelle\n\nThe gazelle runs across the savanna.");
  });
  afterAll(async () => {
    await t?.close();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  describe("full-text index freshness", () => {
    it("finds a document added after the index was built right after the sync", async () => {
      await t.memory.syncFolder(folder, { tenantId: "fresh", sourceId: "folder:f" });
      const indices = await t.memory.store.chunks.listIndices();
      expect(indices.some((i) => i.columns.includes("fts"))).toBe(true);
      expect(await ids("flamingo", "fresh")).toEqual(["first.md"]);

      fs.writeFileSync(path.join(folder, "third.md"), "# Hippo\n\nThe hippopotamus wallows in the river.");
      await t.memory.syncFolder(folder, { tenantId: "fresh", sourceId: "folder:f" });
      expect(await ids("hippopotamus river", "fresh")).toEqual(["third.md"]);
    });

    it("finds a changed document by its new text and not by its old text", async () => {
      const p = path.join(folder, "first.md");
      fs.writeFileSync(p, "# Pelican\n\nThe pelican scoops fish with its pouch. Nothing else here.");
      fs.utimesSync(p, new Date(Date.now() + 120_000), new Date(Date.now() + 120_000));
      const s = await t.memory.syncFolder(folder, { tenantId: "fresh", sourceId: "folder:f" });
      expect(s.updated).toBe(1);
      expect(await ids("pelican pouch", "fresh")).toEqual(["first.md"]);
      expect(await ids("flamingo", "fresh")).toEqual([]);
    });

    it("finds a note right after it is remembered", async () => {
      await t.memory.remember({
        tenantId: "fresh",
        text: "The quokka lives on Rottnest.",
        author: "ana",
        acl: ANY,
      });
      const hits = (await t.memory.search("quokka", { tenantId: "fresh", principals: ANY })).hits;
      expect(hits.map((h) => h.doc.source)).toEqual(["notes"]);
      expect(hits[0]!.best.text).toContain("Rottnest");
    });
  });

  describe("reading whole documents", () => {
    it("attaches every passage of the best documents in reading order, and only those", async () => {
      const dir = tempDir("atom-read-");
      try {
        const filler = (n: number) =>
          Array.from(
            { length: 12 },
            (_, i) => `Paragraph ${n}.${i} talks about ordinary office routines.`,
          ).join(" ");
        fs.writeFileSync(
          path.join(dir, "desk.md"),
          `# Furniture\n\n## Budget\n\nThe narwhal desk budget covers a chair.\n\n## Other\n\n${filler(1)}\n\n## Amount\n\nNew teammates spend up to $2,000.`,
        );
        fs.writeFileSync(path.join(dir, "other.md"), "# Other\n\nA narwhal poster hangs in the hall.");
        await t.memory.syncFolder(dir, { tenantId: "read", sourceId: "folder:r" });
        const opts = { tenantId: "read", principals: ANY, limit: 5 };
        const plain = await t.memory.search("narwhal chair", opts);
        expect(plain.hits[0]!.doc.docId).toBe("desk.md");
        expect(plain.hits[0]!.document).toBeUndefined();
        const read = await t.memory.search("narwhal chair", { ...opts, readDocuments: 1 });
        const doc = read.hits[0]!.document!;
        expect(doc.length).toBeGreaterThan(read.hits[0]!.passages.length);
        expect(doc.map((p) => p.chunkIndex)).toEqual([...doc.keys()]);
        expect(doc.at(-1)!.text).toContain("$2,000");
        expect(doc.at(-1)!.headings).toEqual(["Furniture", "Amount"]);
        expect(read.hits[0]!.passages.some((p) => p.text.includes("$2,000"))).toBe(false);
        expect(read.hits[1]?.document).toBeUndefined();
        const denied = await t.memory.search("narwhal chair", {
          ...opts,
          principals: ["user:nobody@example.com"],
          readDocuments: 1,
        });
        expect(denied.hits).toEqual([]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("tenant isolation", () => {
    const secret = "The vault combination is orchid-7731 for the zeppelin hangar.";
    const crafted = [
      "orchid",
      "orchid zeppelin vault combination",
      "orchid' OR 1=1 --",
      "' OR '1'='1",
      "orchid\" OR tenant_id = 'a'",
      "tenant_id = 'a'",
      "orchid') OR true OR ('",
      "orchid \\' OR 1=1 \\",
      "\\\\orchid\\",
      "orchid\u0000 OR 1=1",
      "orchid*",
      "orchid~ OR zeppelin^10",
      "+orchid -nothing",
      'orchid AND "zeppelin hangar"',
    ];
    const craftedTenants = [
      "a' OR tenant_id != '",
      "b' OR '1'='1",
      "b') OR true --",
      "b\\' OR 1=1 --",
      "b\\",
      "%",
      "_",
      "*",
      "",
    ];

    beforeAll(async () => {
      await t.memory.sync(new FixedSource("src:a", [{ docId: "secret.md", text: secret }]), {
        tenantId: "a",
      });
      await t.memory.sync(
        new FixedSource("src:b", [{ docId: "public.md", text: "Tenant B keeps its bees here." }]),
        {
          tenantId: "b",
        },
      );
      // A tenant whose id itself needs escaping still works for its own data.
      await t.memory.sync(new FixedSource("src:q", [{ docId: "q.md", text: "O'Brien owns the quetzal." }]), {
        tenantId: "o'brien\\",
      });
    });

    it("lets the owner find its chunks", async () => {
      expect(await ids("orchid zeppelin", "a")).toEqual(["secret.md"]);
      expect(await ids("quetzal", "o'brien\\")).toEqual(["q.md"]);
    });

    it("never shows tenant A's chunks to tenant B, whatever the query text", async () => {
      for (const q of crafted) {
        const hits = await t.memory.search(q, { tenantId: "b", principals: ANY, limit: 50 });
        for (const h of hits.hits) expect(h.doc.tenantId, q).toBe("b");
        expect(
          hits.hits.some((h) => h.best.text.includes("orchid")),
          q,
        ).toBe(false);
      }
      // The same crafted queries do reach tenant A's own document (the text is really searched).
      expect(await ids("orchid' OR 1=1 --", "a")).toEqual(["secret.md"]);
    });

    it("never leaks through crafted tenant ids, principals or source ids", async () => {
      for (const tenantId of craftedTenants) {
        for (const q of ["orchid", "quetzal", "bees"]) {
          expect(await ids(q, tenantId), `${tenantId} / ${q}`).toEqual([]);
        }
      }
      const craftedPrincipals = [
        "anyone' OR '1'='1",
        "x']) OR true OR array_has_any(acl, ['anyone",
        "user:ana@x.com' OR tenant_id != '",
        "\\",
      ];
      for (const p of craftedPrincipals) expect(await ids("orchid", "b", [p]), p).toEqual([]);
      for (const p of craftedPrincipals) expect(await ids("orchid", "a", [p]), p).toEqual([]);
      const craftedSources = ["src:a' OR '1'='1", "src:b') OR tenant_id = 'a' OR source IN ('", "src:a"];
      for (const s of craftedSources) expect(await ids("orchid", "b", ANY, [s]), s).toEqual([]);
      // And a legitimate source filter still works for the owner.
      expect(await ids("orchid", "a", ANY, ["src:a"])).toEqual(["secret.md"]);
      expect(await ids("orchid", "a", ANY, ["src:other"])).toEqual([]);
    });

    it("refuses NUL in filter values instead of building a filter", async () => {
      expect(() => sqlString("a\u0000")).toThrow(/NUL/);
      expect(() => eq("tenant_id", "a\u0000' OR '1'='1")).toThrow(/NUL/);
      await expect(t.memory.search("orchid", { tenantId: "a\u0000", principals: ANY })).rejects.toThrow(
        /NUL/,
      );
      await expect(
        t.memory.search("orchid", { tenantId: "b", principals: ["anyone\u0000"] }),
      ).rejects.toThrow(/NUL/);
    });

    it("escapes quotes by doubling them and keeps filters well-formed", () => {
      expect(sqlString("it's")).toBe("'it''s'");
      expect(sqlString("a\\")).toBe("'a\\'");
      expect(eq("tenant_id", "a' OR tenant_id != '")).toBe("tenant_id = 'a'' OR tenant_id != '''");
      expect(aclFilter([])).toBe("false");
      expect(aclFilter(["User:Ana@X.com"])).toBe("array_has_any(acl, ['user:ana@x.com'])");
      expect(searchFilter({ tenantId: "t'", principals: ["anyone"], sources: ["s'"], since: 5 })).toBe(
        "tenant_id = 't''' AND array_has_any(acl, ['anyone']) AND source IN ('s''') AND modified_at >= 5",
      );
      // A crafted `since` cannot inject either: anything but a finite number is refused.
      expect(() =>
        searchFilter({ tenantId: "t", principals: ["anyone"], since: "1 OR 1=1" as unknown as number }),
      ).toThrow(/since/);
      expect(() => searchFilter({ tenantId: "t", principals: ["anyone"], since: Number.NaN })).toThrow(
        /since/,
      );
    });

    it("deleting one tenant leaves the others intact", async () => {
      await t.memory.purgeTenant("b");
      expect(await ids("bees", "b")).toEqual([]);
      expect(await ids("orchid", "a")).toEqual(["secret.md"]);
      expect(await t.memory.status("b")).toEqual([]);
    });
  });

  describe("ACL filtering", () => {
    const dm = (email: string) =>
      principalsFor({
        platform: "slack",
        userId: `U-${email}`,
        userEmail: email,
        isDirect: true,
        visibility: "thread",
      });
    const channel = (email: string) =>
      principalsFor({
        platform: "slack",
        userId: `U-${email}`,
        userEmail: email,
        isDirect: false,
        visibility: "thread",
      });

    beforeAll(async () => {
      await t.memory.sync(
        new FixedSource("drive:x", [
          {
            docId: "ana-salary.md",
            text: "Ana's salary review: the walrus bonus plan.",
            acl: ["user:Ana@X.com"],
          },
          {
            docId: "x-domain.md",
            text: "Everyone at x.com may read the narwhal roadmap.",
            acl: ["domain:x.com"],
          },
          {
            docId: "eng-group.md",
            text: "The engineering group owns the manatee runbook.",
            acl: ["group:eng"],
          },
          { docId: "public.md", text: "The public walrus narwhal manatee glossary." },
        ]),
        { tenantId: "acl", defaultAcl: ["anyone"] },
      );
    });

    it("shows a user-shared document to that user in a DM only", async () => {
      expect(await ids("walrus bonus", "acl", dm("ana@x.com"))).toContain("ana-salary.md");
      expect(await ids("walrus bonus", "acl", dm("ANA@x.com"))).toContain("ana-salary.md");
      expect(await ids("walrus bonus", "acl", channel("ana@x.com"))).not.toContain("ana-salary.md");
      expect(await ids("walrus bonus", "acl", dm("bob@x.com"))).not.toContain("ana-salary.md");
      expect(await ids("walrus bonus", "acl", channel("ana@x.com"))).toEqual(["public.md"]);
    });

    it("shows a domain-shared document to everyone of that domain in a DM", async () => {
      expect(await ids("narwhal roadmap", "acl", dm("bob@x.com"))).toContain("x-domain.md");
      expect(await ids("narwhal roadmap", "acl", dm("carol@y.com"))).not.toContain("x-domain.md");
      expect(await ids("narwhal roadmap", "acl", dm("mallory@evilx.com"))).not.toContain("x-domain.md");
      expect(await ids("narwhal roadmap", "acl", channel("bob@x.com"))).not.toContain("x-domain.md");
    });

    it("shows a group-shared document to group members only", async () => {
      const member = principalsFor({
        platform: "teams",
        userId: "u1",
        userGroups: ["group:eng"],
        isDirect: true,
        visibility: "thread",
      });
      expect(await ids("manatee runbook", "acl", member)).toContain("eng-group.md");
      expect(await ids("manatee runbook", "acl", dm("ana@x.com"))).not.toContain("eng-group.md");
    });

    it("keeps a note made in a DM visible only to its author", async () => {
      await t.memory.remember({
        tenantId: "acl",
        text: "My locker code is tapir-42.",
        author: "ana@x.com",
        acl: ["user:slack:u-ana@x.com", "user:ana@x.com"],
      });
      expect(await ids("tapir locker", "acl", dm("ana@x.com"))).toHaveLength(1);
      expect(await ids("tapir locker", "acl", dm("bob@x.com"))).toEqual([]);
      expect(await ids("tapir locker", "acl", channel("ana@x.com"))).toEqual([]);
    });

    it("matches nothing for an asker without principals", async () => {
      expect(await ids("walrus", "acl", [])).toEqual([]);
    });
  });
});
