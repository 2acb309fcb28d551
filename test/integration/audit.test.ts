import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli.ts";
import { auditToCsv, auditToJsonLines, parseSince } from "../../src/core/audit.ts";
import { appendAudit, cleanDetail, listAudit, recordAudit } from "../../src/db/audit.ts";
import { type Db, migrate, openDb } from "../../src/db/index.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { testBackends } from "../helpers/memory.ts";

const logger = createLogger("silent");

describe.each(testBackends())("audit log on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  it("appends entries and refuses to update them (append-only)", async () => {
    await appendAudit(db, {
      tenantId: "t1",
      actor: "U1",
      action: "workflow.created",
      platform: "slack",
      detail: { workflow: "Digest" },
    });
    await expect(db.query("UPDATE audit_log SET action = 'x' WHERE tenant_id = 't1'")).rejects.toThrow(
      /append-only/,
    );
    const [e] = await listAudit(db, { tenantId: "t1" });
    expect(e).toMatchObject({ tenantId: "t1", actor: "U1", action: "workflow.created", platform: "slack" });
    expect(e?.detail).toEqual({ workflow: "Digest" });
  });

  it("never stores secrets: secret-named keys and secret-shaped values are redacted", async () => {
    await appendAudit(db, {
      tenantId: "t2",
      actor: "U2",
      action: "key.set",
      detail: {
        provider: "openai",
        apiKey: "sk-live-abcdefghijklmnopqrstuvwx",
        note: "token xoxb-1234-5678-abcdefgh was rotated",
        nested: { refresh_token: "1//0abcdefghijkl" },
      },
    });
    const raw = JSON.stringify((await db.query("SELECT * FROM audit_log WHERE tenant_id = 't2'")).rows);
    expect(raw).not.toContain("sk-live-abcdefghijklmnopqrstuvwx");
    expect(raw).not.toContain("xoxb-1234-5678-abcdefgh");
    expect(raw).not.toContain("1//0abcdefghijkl");
    expect(raw).toContain("openai");
    expect(cleanDetail({ Authorization: "Bearer abc", cookie: "s=1" })).toEqual({
      Authorization: "[redacted]",
      cookie: "[redacted]",
    });
  });

  it("filters by tenant, window, action area, actor and platform, newest first", async () => {
    for (const [i, action] of ["workflow.paused", "connection.added", "workflow.deleted"].entries()) {
      await appendAudit(db, {
        tenantId: "t3",
        actor: `U${i}`,
        action,
        platform: i === 1 ? "teams" : "slack",
      });
    }
    await db.query(
      "INSERT INTO audit_log (tenant_id, actor, action, created_at) VALUES ('t3', 'old', 'install', now() - interval '10 days')",
    );
    const all = await listAudit(db, { tenantId: "t3" });
    expect(all.map((e) => e.action)).toEqual([
      "workflow.deleted",
      "connection.added",
      "workflow.paused",
      "install",
    ]);
    const week = await listAudit(db, { tenantId: "t3", since: parseSince("7d") });
    expect(week.map((e) => e.action)).not.toContain("install");
    expect((await listAudit(db, { tenantId: "t3", action: "workflow." })).map((e) => e.action)).toEqual([
      "workflow.deleted",
      "workflow.paused",
    ]);
    expect((await listAudit(db, { tenantId: "t3", platform: "teams" })).map((e) => e.actor)).toEqual(["U1"]);
    expect((await listAudit(db, { tenantId: "t3", actor: "U2" })).map((e) => e.action)).toEqual([
      "workflow.deleted",
    ]);
    // A filter value is a parameter, never SQL.
    expect(await listAudit(db, { tenantId: "t3' OR '1'='1" })).toEqual([]);
  });

  it("recordAudit never throws (the audited action goes on when the log is unavailable)", async () => {
    const broken = { ...db, query: async () => Promise.reject(new Error("db down")) } as unknown as Db;
    await expect(recordAudit(broken, logger, { tenantId: "t", actor: "a", action: "install" })).resolves.toBe(
      undefined,
    );
  });
});

describe("audit export formats", () => {
  const entries = [
    {
      id: "7",
      tenantId: "slack:T1",
      actor: "U1",
      action: "workflow.renamed",
      platform: "slack",
      detail: { workflow: 'Sales, "daily"', to: "=cmd()" },
      createdAt: new Date("2026-12-01T10:00:00Z"),
    },
  ];

  it("CSV: header, RFC 4180 quoting, CRLF, detail as JSON", () => {
    const csv = auditToCsv(entries);
    expect(csv.split("\r\n")[0]).toBe("id,created_at,tenant_id,platform,actor,action,detail");
    expect(csv).toContain(
      '7,2026-12-01T10:00:00.000Z,slack:T1,slack,U1,workflow.renamed,"{""workflow"":""Sales, \\""daily\\"""",""to"":""=cmd()""}"',
    );
    expect(csv.endsWith("\r\n")).toBe(true);
  });

  it("JSON lines: one parsable object per line", () => {
    const lines = auditToJsonLines(entries).trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      id: "7",
      at: "2026-12-01T10:00:00.000Z",
      tenant: "slack:T1",
      platform: "slack",
      actor: "U1",
      action: "workflow.renamed",
      detail: { workflow: 'Sales, "daily"', to: "=cmd()" },
    });
  });

  it("--since takes 7d, 12h, 30m, 2w or a date", () => {
    const now = Date.parse("2026-12-02T00:00:00Z");
    expect(parseSince("7d", now).toISOString()).toBe("2026-11-25T00:00:00.000Z");
    expect(parseSince("12h", now).toISOString()).toBe("2026-12-01T12:00:00.000Z");
    expect(parseSince("2026-11-01").toISOString()).toBe("2026-11-01T00:00:00.000Z");
    expect(() => parseSince("soon")).toThrow(/7d, 12h/);
  });
});

describe("atom audit (CLI)", () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-audit-cli-"));
    const db = await openDb({ pgliteDir: path.join(dataDir, "pglite") });
    await migrate(db);
    await appendAudit(db, {
      tenantId: "default",
      actor: "U9",
      action: "workflow.paused",
      platform: "slack",
      detail: { workflow: "Digest" },
    });
    await db.query(
      "INSERT INTO audit_log (tenant_id, actor, action, created_at) VALUES ('default', 'old', 'install', now() - interval '30 days')",
    );
    await db.close();
  }, 60_000);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const capture = () => {
    let text = "";
    const stream = new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    return { stream, text: () => text };
  };

  it("prints the last 7 days as JSON lines with --json, and older entries with --since 60d --csv", async () => {
    const prev = process.env.ATOM_DATA_DIR;
    process.env.ATOM_DATA_DIR = dataDir;
    try {
      const out = capture();
      const err = capture();
      expect(await run(["audit", "--json"], { stdout: out.stream, stderr: err.stream })).toBe(0);
      const lines = out
        .text()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as { action: string });
      expect(lines.map((l) => l.action)).toEqual(["workflow.paused"]);

      const csv = capture();
      expect(
        await run(["audit", "--since", "60d", "--csv"], { stdout: csv.stream, stderr: err.stream }),
      ).toBe(0);
      expect(csv.text().trimEnd().split("\r\n")).toHaveLength(3);

      const bad = capture();
      expect(await run(["audit", "--since", "soon"], { stdout: bad.stream, stderr: bad.stream })).toBe(2);
    } finally {
      if (prev === undefined) delete process.env.ATOM_DATA_DIR;
      else process.env.ATOM_DATA_DIR = prev;
    }
  }, 60_000);

  it("atom retention sets a workspace's own policy, refuses unsafe values, and audit-logs the change", async () => {
    const prev = process.env.ATOM_DATA_DIR;
    process.env.ATOM_DATA_DIR = dataDir;
    try {
      const out = capture();
      const err = capture();
      expect(
        await run(["retention", "--threads", "14", "--audit", "730"], {
          stdout: out.stream,
          stderr: err.stream,
        }),
      ).toBe(0);
      expect(out.text()).toContain("threads: 14 days (this workspace)");
      expect(out.text()).toContain("runs: 90 days (global)");
      const bad = capture();
      expect(await run(["retention", "--audit", "3"], { stdout: bad.stream, stderr: bad.stream })).toBe(2);
      // The flag the person typed, not the internal field name.
      expect(bad.text()).toContain("atom: --audit must be a whole number of days from 30 to 3650");
      expect(bad.text()).not.toContain("auditDays");
      const json = capture();
      expect(
        await run(["audit", "--json", "--action", "settings.changed"], {
          stdout: json.stream,
          stderr: err.stream,
        }),
      ).toBe(0);
      const [entry] = json
        .text()
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entry).toMatchObject({
        actor: "cli",
        platform: "cli",
        detail: { setting: "retention", before: {}, after: { threadDays: 14, auditDays: 730 } },
      });
    } finally {
      if (prev === undefined) delete process.env.ATOM_DATA_DIR;
      else process.env.ATOM_DATA_DIR = prev;
    }
  }, 60_000);
});
