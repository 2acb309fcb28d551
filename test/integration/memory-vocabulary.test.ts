import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Memory } from "../../src/memory/memory.ts";
import { ChunkStore } from "../../src/memory/store.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { openTestMemory, type TestMemory } from "../helpers/memory.ts";

const ANY = ["anyone"];

describe("term statistics of memory (vocabulary)", () => {
  let t: TestMemory;
  beforeAll(async () => {
    t = await openTestMemory();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("after another writer's change, searches do not wait: the statistics are rebuilt in the background", async () => {
    const tenantId = "replicated";
    await t.memory.remember({
      tenantId,
      text: "The quarterly offsite is in Lisbon.",
      author: "Ann",
      acl: ANY,
    });
    // A second process's view of the same table (another replica), checking for changes on every search.
    const store = await ChunkStore.open(path.join(t.dir, "lancedb"), {
      readConsistencySeconds: 0,
    });
    const reader = new Memory(t.db, store, createLogger("silent"));
    reader.vocabularyCheckMs = 0;
    try {
      expect((await reader.vocabulary(tenantId)).wordFrequency("zanzibarite")).toBe(0);
      const before = await reader.vocabulary(tenantId);
      // Another writer adds a word memory had never seen, in many chunks.
      for (let i = 0; i < 25; i++)
        await t.memory.remember({
          tenantId,
          text: `Zanzibarite samples, batch ${i}.`,
          author: "Bo",
          acl: ANY,
        });

      // The first search after the change answers with the statistics it had…
      const first = await reader.search("zanzibarite samples", { tenantId, principals: ANY });
      expect(first.query?.concepts[0]?.df).toBe(0);
      // …and the new ones replace them once built.
      await reader.settled();
      const after = await reader.vocabulary(tenantId);
      expect(after).not.toBe(before);
      expect(after.wordFrequency("zanzibarite")).toBe(25);
      const second = await reader.search("zanzibarite samples", { tenantId, principals: ANY });
      expect(second.query?.concepts[0]?.df).toBe(25);
      expect(second.hits.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it("own writes are counted at the next search (it waits for the new statistics)", async () => {
    const tenantId = "own";
    await t.memory.remember({ tenantId, text: "Lunch is at noon.", author: "Ann", acl: ANY });
    expect((await t.memory.vocabulary(tenantId)).wordFrequency("kombucha")).toBe(0);
    await t.memory.remember({ tenantId, text: "Kombucha is in the fridge.", author: "Ann", acl: ANY });
    expect((await t.memory.vocabulary(tenantId)).wordFrequency("kombucha")).toBe(1);
  });

  it("builds a large tenant's statistics from an even sample, scaled to the tenant's size", async () => {
    const tenantId = "large";
    for (let i = 0; i < 40; i++) {
      const word = i % 2 === 0 ? "meridian" : "parallax";
      await t.memory.remember({ tenantId, text: `Note ${i}: the ${word} report.`, author: "Cy", acl: ANY });
    }
    const full = await t.memory.vocabulary(tenantId);
    expect(full.scale).toBe(1);
    expect(full.size).toBe(40);

    const store = await ChunkStore.open(path.join(t.dir, "lancedb"));
    const sampled = new Memory(t.db, store, createLogger("silent"));
    sampled.vocabularyMaxChunks = 10;
    try {
      const v = await sampled.vocabulary(tenantId);
      expect(v.scale).toBe(4); // one chunk in 4 read
      expect(v.size).toBeGreaterThanOrEqual(20);
      expect(v.size).toBeLessThanOrEqual(60);
      expect(v.wordFrequency("report")).toBe(v.size); // in every chunk: exact after scaling
      expect(v.idf("absent")).toBeGreaterThan(v.idf("report"));
      const r = await sampled.search("meridian report", { tenantId, principals: ANY });
      expect(r.hits.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });
});
