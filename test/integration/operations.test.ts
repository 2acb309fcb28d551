import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage } from "../../src/core/ports.ts";
import { MAINTENANCE_QUEUE, scheduleRetention } from "../../src/core/maintenance.ts";
import { loadConfig } from "../../src/config.ts";
import { listAudit } from "../../src/db/audit.ts";
import { lastMaintenanceRuns } from "../../src/db/maintenance-runs.ts";
import { DEFAULT_RETENTION } from "../../src/db/retention.ts";
import { type Atom, createAtom } from "../../src/main.ts";
import { NOTES_SOURCE } from "../../src/memory/memory.ts";
import { silentLogger } from "../../src/observability/logger.ts";

const msg = (userId: string, text: string, extra: Partial<ChatMessage> = {}): ChatMessage => ({
  platform: "slack",
  tenantId: "default",
  channelId: "C1",
  threadId: `th-${Math.random()}`,
  messageId: `m-${Math.random()}`,
  userId,
  text,
  files: [],
  isDirect: false,
  mentionsBot: true,
  visibility: "thread",
  ...extra,
});

describe("forget my notes, memory status and LanceDB maintenance", { timeout: 120_000 }, () => {
  let atom: Atom;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-ops-"));
    atom = await createAtom(loadConfig({ ATOM_DATA_DIR: dataDir, LOG_LEVEL: "silent" }), {
      logger: silentLogger,
      adapters: false,
    });
  }, 60_000);
  afterAll(async () => {
    await atom?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const notesOf = async () =>
    (
      await atom.db.query<{ title: string; author: string | null }>(
        "SELECT title, author FROM documents WHERE source_id = $1 ORDER BY title",
        [NOTES_SOURCE],
      )
    ).rows;

  it("deletes only the asker's own notes, from LanceDB and Postgres, and audit-logs it", async () => {
    await atom.bot.handle(msg("UANA", "remember that the boat key is under the blue mat"));
    await atom.bot.handle(
      msg("UANA", "remember that the wifi password is on the fridge", { isDirect: true }),
    );
    await atom.bot.handle(msg("UBEN", "remember that the parking spot is number 12"));
    // A note from before authors were recorded: matched by the name in its title.
    await atom.memory.remember({
      tenantId: "default",
      text: "the alarm code changes in May",
      author: "UANA",
      acl: ["anyone"],
    });
    expect(await notesOf()).toHaveLength(4);

    const reply = await atom.bot.handle(msg("UANA", "forget my notes"));
    expect(reply.intent).toBe("notes.forget");
    expect(reply.visibility).toBe("ephemeral");
    expect(reply.text).toContain("forgot 3 notes");
    expect((await notesOf()).map((n) => n.author)).toEqual(["slack:UBEN"]);
    const boat = await atom.memory.search("boat key blue mat", {
      tenantId: "default",
      principals: ["anyone"],
    });
    expect(boat.hits.filter((h) => h.doc.source === NOTES_SOURCE)).toHaveLength(0);
    // LanceDB keeps one note chunk: Ben's.
    expect(await atom.memory.store.count(`source = '${NOTES_SOURCE}'`)).toBe(1);
    const parking = await atom.memory.search("parking spot", { tenantId: "default", principals: ["anyone"] });
    expect(parking.hits.map((h) => h.doc.source)).toContain(NOTES_SOURCE);

    const [entry] = await listAudit(atom.db, { action: "notes.forgotten" });
    expect(entry).toMatchObject({ actor: "UANA", platform: "slack", detail: { notes: 3 } });
    expect((await atom.bot.handle(msg("UANA", "forget my notes"))).text).toContain("no notes");
  });

  it("runs LanceDB maintenance as a job and shows it, the table size and search latency in status", async () => {
    const stop = scheduleRetention({
      db: atom.db,
      jobs: atom.jobs,
      logger: silentLogger,
      policy: DEFAULT_RETENTION,
      table: atom.memory.store,
    });
    atom.jobs.start();
    try {
      await atom.jobs.drain({ queues: [MAINTENANCE_QUEUE], timeoutMs: 60_000 });
    } finally {
      stop();
    }
    const runs = await lastMaintenanceRuns(atom.db);
    expect(runs.map((r) => [r.task, r.ok])).toEqual([
      ["lancedb", true],
      ["retention", true],
    ]);
    expect(runs[0]!.detail).toHaveProperty("versionsRemoved");
    const status = await atom.bot.handle(msg("UBEN", "status"));
    expect(status.text).toMatch(
      /Memory store: 1 of your passages in LanceDB; table [\d.]+ (B|KB|MB) on disk, \d+ version\(s\) kept/,
    );
    expect(status.text).toMatch(/row\(s\) not yet in the full-text index/);
    expect(status.text).toMatch(/Search latency \(last hour\): p50 \d+ ms, p95 \d+ ms over \d+ search\(es\)/);
    expect(status.text).toMatch(
      /Maintenance: retention at [\d-]+ [\d:]+ UTC \(removed \d+ expired record\(s\)\); LanceDB optimize at [\d-]+ [\d:]+ UTC \(compacted \d+ fragment/,
    );
  });
});
