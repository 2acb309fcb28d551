import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDrive, type DriveAtom, googleEnv, openDriveAtom, syncNow } from "../helpers/google.ts";
import { tempDir } from "../helpers/memory.ts";
import { FakeGoogle } from "./fakes/google.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const OWNER = { id: "p-owner", type: "user" as const, role: "owner", emailAddress: "ana@example.com" };

/**
 * A sync killed mid-way (SIGKILL of `atom sync` while Drive answers a download) resumes in another
 * process without duplicates or lost changes, and the cursor never runs ahead of the data.
 */
describe("Google Drive: a sync killed mid-way", () => {
  let fake: FakeGoogle;
  let dir: string;
  let d: DriveAtom | undefined;
  const ids: Record<string, string> = {};
  const fresh: string[] = [];

  beforeAll(async () => {
    fake = await FakeGoogle.start();
    dir = tempDir("atom-gdrive-crash-");
    for (const k of ["edited", "removed", "reshared", "still1", "still2"]) {
      ids[k] = fake.addFile({
        name: `Doc ${k}`,
        text: `The ${k} document talks about herons.`,
        permissions: [OWNER],
      }).id;
    }
    d = await openDriveAtom(fake, {}, { dir, keepDir: true });
    await connectDrive(d, fake);
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await fake?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("resumes from the last committed cursor: nothing twice, nothing lost", async () => {
    const c1 = (await d!.atom.connections.store.list())[0]!.cursor;
    await d!.close();
    d = undefined;
    fake.editFile(ids.edited!, "The edited document now talks about kingfishers.");
    fake.remove(ids.removed!);
    fake.setPermissions(ids.reshared!, [
      OWNER,
      { id: "p-dom", type: "domain", domain: "example.com", allowFileDiscovery: true },
    ]);
    for (let i = 0; i < 300; i++) {
      fresh.push(
        fake.addFile({
          name: `Note ${i}`,
          text: `Field note ${i}: a grebe was seen at pond ${i}.`,
          permissions: [OWNER],
        }).id,
      );
    }
    // The 250th new document's export hangs: the first batch of 200 is written, the second is not.
    const hang = fresh[250]!;
    fake.holdWhen = (p) => p === `/drive/v3/files/${hang}/export`;
    const child = spawn(process.execPath, [path.join(ROOT, "bin/atom.js"), "sync"], {
      cwd: ROOT,
      env: { ...process.env, ...googleEnv(fake, dir), LOG_LEVEL: "silent" },
      stdio: "ignore",
    });
    const exited = new Promise<void>((r) => child.on("exit", () => r()));
    await fake.waitFor(() => fake.heldCount > 0, 90_000, "the hanging export");
    child.kill("SIGKILL");
    await exited;
    fake.release();

    d = await openDriveAtom(fake, {}, { dir, keepDir: true });
    const db = d.atom.db;
    const conn = async () => (await d!.atom.connections.store.list())[0]!;
    // The cursor did not move: the page it covers was not completely written.
    expect((await conn()).cursor).toBe(c1);
    const docsAfterKill = await db.query<{ doc_id: string }>("SELECT doc_id FROM documents");
    const written = new Set(docsAfterKill.rows.map((r) => r.doc_id));
    expect(written.has(fresh[0]!)).toBe(true);
    expect(written.has(hang)).toBe(false);
    expect(written.size).toBeGreaterThanOrEqual(200);
    expect(written.size).toBeLessThan(305);

    // The killed job's lease runs out; this process takes the job over and finishes it.
    await db.query("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE status = 'running'");
    await syncNow(d);

    const rows = await db.query<{ doc_id: string; chunk_count: number }>(
      "SELECT doc_id, chunk_count FROM documents",
    );
    const expected = [ids.edited, ids.reshared, ids.still1, ids.still2, ...fresh].sort();
    expect(rows.rows.map((r) => r.doc_id).sort()).toEqual(expected);
    // No chunk stored twice: LanceDB holds exactly the chunks the bookkeeping says.
    const total = rows.rows.reduce((s, r) => s + Number(r.chunk_count), 0);
    expect(await d.atom.memory.store.count()).toBe(total);
    const kingfisher = await d.atom.memory.search("kingfishers", {
      tenantId: "default",
      principals: ["user:ana@example.com"],
    });
    expect(kingfisher.hits.map((h) => h.doc.docId)).toEqual([ids.edited]);
    const reshared = await db.query<{ acl: string[] }>("SELECT acl FROM documents WHERE doc_id = $1", [
      ids.reshared,
    ]);
    expect(reshared.rows[0]?.acl).toContain("domain:example.com");
    // What the killed run had written was not downloaded again.
    expect(fake.downloadsOf(fresh[0]!)).toHaveLength(1);
    expect((await conn()).cursor).not.toBe(c1);
    expect((await conn()).cursor).toBe(String(Number(c1) + 303));
  });

  it("`atom sync --json` syncs every connection to the end and reports it", async () => {
    await d!.close();
    d = undefined;
    fake.editFile(ids.still1!, "The still1 document now talks about cormorants.");
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      let stdout = "";
      const child = spawn(process.execPath, [path.join(ROOT, "bin/atom.js"), "sync", "--json"], {
        cwd: ROOT,
        env: { ...process.env, ...googleEnv(fake, dir), LOG_LEVEL: "silent" },
        stdio: ["ignore", "pipe", "ignore"],
      });
      child.stdout.on("data", (b: Buffer) => {
        stdout += b.toString("utf8");
      });
      child.on("exit", (code) => resolve({ code, stdout }));
    });
    expect(out.code).toBe(0);
    const report = JSON.parse(out.stdout) as {
      queued: number;
      connections: { status: string; documents: number; account: string }[];
    };
    expect(report.queued).toBe(1);
    expect(report.connections).toEqual([
      expect.objectContaining({
        provider: "google",
        account: "ana@example.com",
        status: "ok",
        documents: 304,
        error: null,
      }),
    ]);
    d = await openDriveAtom(fake, {}, { dir, keepDir: true });
    const hits = await d.atom.memory.search("cormorants", {
      tenantId: "default",
      principals: ["user:ana@example.com"],
    });
    expect(hits.hits.map((h) => h.doc.docId)).toEqual([ids.still1]);
  });
});
