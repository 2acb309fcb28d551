import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionTokens } from "../../src/connections/tokens.ts";
import type { Connection } from "../../src/db/connections.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import type { GoogleDriveSource } from "../../src/memory/sources/google-drive/source.ts";
import type { ListingPage } from "../../src/memory/sources/types.ts";
import { FILES_DIR, HAS_FILES } from "../helpers/memory.ts";
import { capturedLogs, connectDrive, type DriveAtom, dm, openDriveAtom, syncNow } from "../helpers/google.ts";
import { FakeGoogle } from "./fakes/google.ts";

const OWNER = { id: "p-owner", type: "user" as const, role: "owner", emailAddress: "ana@example.com" };

describe("Google Drive: throttling, tokens, broken grants and bad files", () => {
  let fake: FakeGoogle;
  let d: DriveAtom;
  let conn: () => Promise<Connection>;
  const found = async (query: string) =>
    (
      await d.atom.memory.search(query, {
        tenantId: "default",
        principals: ["user:ana@example.com"],
        limit: 10,
      })
    ).hits.map((h) => h.doc.title);

  beforeAll(async () => {
    fake = await FakeGoogle.start();
    fake.addFile({ name: "Seed", text: "The kestrel seed document.", permissions: [OWNER] });
    d = await openDriveAtom(fake);
    await connectDrive(d, fake);
    conn = async () => (await d.atom.connections.store.list())[0]!;
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await fake?.close();
  });

  it("honours a lower-case `retry-after: 2` on 429 before asking again", async () => {
    const doc = fake.addFile({
      name: "Throttled",
      text: "The puffin count is eleven.",
      permissions: [OWNER],
    });
    fake.failNext(`/drive/v3/files/${doc.id}/export`, {
      status: 429,
      retryAfter: "2",
      headerName: "retry-after",
    });
    await syncNow(d);
    const calls = fake.callsTo(`/drive/v3/files/${doc.id}/export`);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(1990);
    expect(await found("puffin count")).toEqual(["Throttled"]);
  });

  it("backs off with jitter on 429 without Retry-After and on 403 userRateLimitExceeded", async () => {
    fake.addFile({ name: "Backoff", text: "The gannet colony moved north.", permissions: [OWNER] });
    fake.failNext("/drive/v3/changes", { status: 429 }, { status: 403, reason: "userRateLimitExceeded" });
    await syncNow(d);
    const calls = fake.callsTo("/drive/v3/changes").slice(-3);
    expect(calls.map((c) => c.status)).toEqual([429, 403, 200]);
    // First wait: half of 1 s plus jitter; second: half of 2 s plus jitter.
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(490);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(990);
    expect(await found("gannet colony")).toEqual(["Backoff"]);
  });

  it("a Retry-After longer than a minute ends the sync: the job waits that long, the cursor stays", async () => {
    const before = (await conn()).cursor;
    fake.addFile({ name: "Later", text: "The skua arrives later.", permissions: [OWNER] });
    fake.failNext("/drive/v3/changes", { status: 429, retryAfter: "120", headerName: "Retry-After" });
    await d.atom.connections.enqueueAll("manual");
    await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 30_000 });
    const [job] = await d.atom.jobs.store.list({ queue: SYNC_QUEUE, status: ["queued"] });
    expect(job?.runAt.getTime()).toBeGreaterThan(Date.now() + 100_000);
    expect(job?.lastError).toMatch(/429/);
    expect((await conn()).cursor).toBe(before);
    expect((await conn()).lastSyncStatus).toBe("failed");
    expect(await found("skua")).toEqual([]);
    await d.atom.jobs.store.cancel(SYNC_QUEUE, job!.tenantId, job!.key);
    await syncNow(d);
    expect(await found("skua")).toEqual(["Later"]);
  });

  it("refreshes an expired access token once for two concurrent syncs of one connection", async () => {
    fake.expireAccessTokens();
    fake.refreshDelayMs = 300;
    const before = fake.refreshCount;
    const c = await conn();
    const provider = d.atom.connections.provider("google")!;
    const sources = await Promise.all([
      provider.createSource(c, d.atom.connections.ctx),
      provider.createSource(c, d.atom.connections.ctx),
    ]);
    const listAll = async (s: GoogleDriveSource) => {
      const pages: ListingPage[] = [];
      for await (const p of s.list()) pages.push(p);
      return pages.flatMap((p) => p.entries).length;
    };
    const counts = await Promise.all(sources.map((s) => listAll(s as GoogleDriveSource)));
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBe(counts[0]);
    expect(fake.refreshCount - before).toBe(1);
    fake.refreshDelayMs = 0;
  });

  it("waits for another process's refresh instead of refreshing again (refresh lease on the row)", async () => {
    const c = await conn();
    const store = d.atom.connections.store;
    const sealer = d.atom.connections.ctx.sealer;
    let refreshes = 0;
    const tokens = new ConnectionTokens(c.id, store, sealer, async (t) => {
      refreshes++;
      return { ...t, accessToken: "never-used", expiresAt: Date.now() + 3_600_000 };
    });
    const original = (await store.tokens(c.id))!.tokensSealed;
    const current = await tokens.get();
    // Another process holds the lease…
    expect(await store.claimRefresh(c.id, 30_000)).toBeDefined();
    const waiting = tokens.refreshAfter(current);
    await new Promise((r) => setTimeout(r, 300));
    // …and stores what it got.
    const fresh = {
      accessToken: "other-process-token",
      refreshToken: "r",
      expiresAt: Date.now() + 3_600_000,
    };
    await store.storeTokens(c.id, sealer.seal(JSON.stringify(fresh), `connection:${c.id}`));
    expect(await waiting).toBe("other-process-token");
    expect(refreshes).toBe(0);
    // Put the real tokens back for the next tests.
    await store.storeTokens(c.id, original);
  });

  it.skipIf(!HAS_FILES)(
    "skips bad files with their reason and goes on: corrupt PDF, 2 GB video, no extension, failing export, permission without e-mail",
    async () => {
      fake.addFile({
        name: "broken-truncated.pdf",
        mimeType: "application/pdf",
        content: fs.readFileSync(path.join(FILES_DIR, "broken-truncated.pdf")),
        permissions: [OWNER],
      });
      const video = fake.addFile({
        name: "all-hands.mp4",
        mimeType: "video/mp4",
        reportedSize: 2 * 1024 ** 3,
        permissions: [OWNER],
      });
      const blob = fake.addFile({
        name: "blob",
        mimeType: "application/octet-stream",
        text: "\u0000\u0001binary",
        permissions: [OWNER],
      });
      fake.addFile({
        name: "README",
        mimeType: "text/plain",
        text: "The booby nests are counted in spring.",
        permissions: [OWNER],
      });
      const failing = fake.addFile({
        name: "Flaky export",
        text: "The tern survey.",
        exportBroken: true,
        permissions: [OWNER],
      });
      fake.addFile({
        name: "Odd sharing",
        text: "The shag roost is on the cliff.",
        permissions: [OWNER, { id: "p-ghost", type: "user", role: "reader" }],
      });
      await syncNow(d);
      expect(await found("booby nests")).toEqual(["README"]);
      expect(await found("shag roost")).toEqual(["Odd sharing"]);
      expect(fake.downloadsOf(video.id)).toHaveLength(0);
      expect(fake.downloadsOf(blob.id)).toHaveLength(0);
      expect(fake.callsTo(`/drive/v3/files/${failing.id}/export`).map((c) => c.status)).toEqual([
        500, 500, 500,
      ]);
      const skipped = new Map(
        (
          await d.atom.db.query<{ name: string; reason: string }>("SELECT name, reason FROM skipped_files")
        ).rows.map((r) => [r.name, r.reason]),
      );
      expect(skipped.get("broken-truncated.pdf")).toMatch(/^PDF is damaged/);
      expect(skipped.get("all-hands.mp4")).toBe("file is too large (2.0 GB; the limit is 50 MB)");
      expect(skipped.get("blob")).toBe("unsupported file type (no extension, application/octet-stream)");
      expect(skipped.get("Flaky export")).toMatch(/export failed .*500.*retried at the next sync/);

      // `status` in a DM shows the owner every skipped file with its reason.
      const status = await d.atom.bot.handle(dm("status"));
      expect(status.text).toContain("all-hands.mp4 — file is too large (2.0 GB; the limit is 50 MB)");
      expect(status.text).toContain("broken-truncated.pdf — PDF is damaged");
      expect(status.text).toContain("blob — unsupported file type");
      expect(status.text).toContain("Flaky export — export failed");
      const sources = await d.atom.bot.handle(dm("sources"));
      expect(sources.text).toContain("4 files skipped");
      expect(status.text).toContain("note: Odd sharing — a user permission (p-ghost) has no e-mail; ignored");

      // The failing export is retried at the next sync (the feed has nothing new about it) and
      // indexed once Drive exports it again; the permanent skips are not retried.
      fake.files.get(failing.id)!.exportBroken = false;
      const pdfDownloads = fake.calls.filter((c) => c.query.alt === "media").length;
      await syncNow(d);
      expect(await found("tern survey")).toEqual(["Flaky export"]);
      expect(fake.calls.filter((c) => c.query.alt === "media").length).toBe(pdfDownloads);
      const left = await d.atom.db.query<{ name: string }>("SELECT name FROM skipped_files ORDER BY name");
      expect(left.rows.map((r) => r.name)).toEqual(["all-hands.mp4", "blob", "broken-truncated.pdf"]);
    },
  );

  it("invalid_grant marks the connection broken, tells the owner once and deletes nothing", async () => {
    const docsBefore = await d.atom.memory.store.count();
    const sentBefore = d.sent.length;
    fake.revokeRefreshTokens();
    fake.expireAccessTokens();
    fake.addFile({ name: "After revoke", text: "The loon is not synced.", permissions: [OWNER] });
    await syncNow(d);
    const c = await conn();
    expect(c.status).toBe("broken");
    expect(d.sent.length).toBe(sentBefore + 1);
    expect(d.sent.at(-1)?.reply.text).toMatch(
      /Google Drive \(ana@example.com\) stopped working.*connect drive/,
    );
    // Again (a periodic sync, a manual one): no second message, nothing deleted.
    await d.atom.connections.enqueue(c, "manual");
    await d.atom.jobs.drain({ queues: [SYNC_QUEUE] });
    await syncNow(d);
    expect(d.sent.length).toBe(sentBefore + 1);
    expect(await d.atom.memory.store.count()).toBe(docsBefore);
    const sources = await d.atom.bot.handle(dm("sources"));
    expect(sources.text).toMatch(/broken .*connect drive/);
    // Connecting again repairs it and syncs what was missed.
    await connectDrive(d, fake);
    expect((await conn()).status).toBe("active");
    expect(await found("loon")).toEqual(["After revoke"]);
  });

  it("never logs a token or the client secret", () => {
    const secrets = [fake.clientSecret, ...fake.accessTokens.keys(), ...fake.refreshTokens.keys()];
    for (const line of capturedLogs) for (const s of secrets) expect(line).not.toContain(s);
  });
});
