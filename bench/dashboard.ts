/**
 * Admin dashboard server time (issue 14: "< 100 ms server time with 10 000 audit rows").
 *
 *   node --import tsx bench/dashboard.ts [--requests 200] [--audit 10000]
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/dashboard.ts
 *     (PostgreSQL, in a schema of its own that is dropped afterwards; default: embedded PGlite)
 *
 * `atom serve` runs in this process with a small docs folder indexed, and the database seeded with
 * what a busy workspace has after a month: `--audit` audit rows of the workspace over 30 days (and
 * as many of 9 other workspaces), 40 workflows with a daily run each for 90 days, 30 days of answer
 * counts by mode, 3 000 stored answers and 2 000 documents' rows. An admin session (the
 * `dashboard` command's link) then loads `GET /dashboard` `--requests` times one after another,
 * in two modes:
 * - cached: as in production, the slow-changing panels (charts, workflows, table size) are reused
 *   for 30 s; health, sources and the audit log are read live on every request;
 * - uncached: the panel cache is cleared before every request, so every query runs each time.
 * Reported per mode: server time from the page's `Server-Timing` header (p50/p95/p99, with its
 * data and render parts), wall time seen by the client, and the process CPU time per request
 * (`process.cpuUsage`, user+system, which includes the in-process client and the database when it
 * is PGlite; with PostgreSQL the server's own CPU is not counted). Also the 1-minute load average
 * before and after. Bounded: 2 × `--requests` sequential requests after the seeding.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config.ts";
import type { ChatMessage } from "../src/core/ports.ts";
import { countAuditByAction, listAudit } from "../src/db/audit.ts";
import {
  adminLoginRecorded,
  answersPerDay,
  documentTotals,
  sourceSyncStates,
  workflowSummaries,
} from "../src/db/dashboard.ts";
import { openPostgres } from "../src/db/index.ts";
import { lastMaintenanceRuns } from "../src/db/maintenance-runs.ts";
import { startServer } from "../src/main.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { clearDashboardCache } from "../src/server/dashboard.tsx";
import { formatTable, writeResults } from "./lib/output.ts";
import { round, summarize } from "./lib/stats.ts";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const chat = (text: string): ChatMessage => ({
  platform: "slack",
  tenantId: "default",
  channelId: "C-ops",
  threadId: crypto.randomUUID(),
  messageId: crypto.randomUUID(),
  userId: "U-ADMIN",
  userEmail: "admin@example.com",
  userIsAdmin: true,
  text,
  files: [],
  isDirect: true,
  mentionsBot: true,
  visibility: "thread",
});

interface ModeResult {
  mode: string;
  server: ReturnType<typeof summarize>;
  data: ReturnType<typeof summarize>;
  render: ReturnType<typeof summarize>;
  serverCpu: ReturnType<typeof summarize>;
  wall: ReturnType<typeof summarize>;
  cpuMsPerRequest: number;
}

async function main(): Promise<void> {
  const requests = arg("requests", 200);
  const auditRows = arg("audit", 10_000);
  const pgUrl = process.env.DATABASE_URL;
  const schema = `bench_dashboard_${process.pid}`;
  let databaseUrl: string | undefined;
  if (pgUrl) {
    const admin = await openPostgres(pgUrl);
    await admin.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await admin.close();
    databaseUrl = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-dashboard-"));
  const docs = path.join(dataDir, "docs");
  fs.mkdirSync(docs);
  for (let i = 0; i < 20; i++)
    fs.writeFileSync(
      path.join(docs, `policy-${i}.md`),
      `# Policy ${i}\n\nRule ${i}: ask the office first.\n`,
    );
  const port = 20_000 + (process.pid % 20_000);
  const server = await startServer(
    loadConfig({
      ATOM_DATA_DIR: dataDir,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: "silent",
    }),
    { logger: silentLogger },
  );
  try {
    const { db } = server.atom;
    await server.atom.memory.syncFolder(docs, { tenantId: "default" });
    const seedStart = performance.now();
    const tenants = ["default", ...Array.from({ length: 9 }, (_, i) => `slack:TOTHER${i}`)];
    for (const t of tenants)
      await db.query(
        `INSERT INTO audit_log (tenant_id, actor, action, platform, detail, created_at)
         SELECT $1, 'U' || (i % 40), (ARRAY['workflow.paused', 'connection.added', 'install', 'workflow.created', 'keys.set', 'admin.login'])[i % 6 + 1],
                'slack', jsonb_build_object('n', i, 'note', repeat('x', 40)), now() - (i * ($2::float8 / $3::float8) * interval '1 minute')
         FROM generate_series(1, $3::int) i`,
        [t, 30 * 24 * 60, auditRows],
      );
    await db.query(
      `INSERT INTO answer_stats (tenant_id, day, mode, answers)
       SELECT t, (now() AT TIME ZONE 'UTC')::date - d, m, (d * 7 + length(m)) % 40 + 1
       FROM unnest($1::text[]) t, generate_series(0, 29) d, unnest(ARRAY['extractive', 'generated', 'not_found']) m`,
      [tenants],
    );
    await db.query(
      `INSERT INTO answers (answer_id, tenant_id, platform, question, answer, created_at)
       SELECT 'a' || i, 'default', 'slack', 'question ' || i, repeat('answer ', 40), now() - i * interval '10 minutes'
       FROM generate_series(1, 3000) i`,
    );
    // Document rows of the indexed folder's source (the sources panel and the growth chart read them).
    await db.query(
      `INSERT INTO documents (tenant_id, source_id, doc_id, uri, title, mime, version, content_hash, chunk_count, indexed_at)
       SELECT 'default', (SELECT source_id FROM sources WHERE tenant_id = 'default' LIMIT 1), 'bench-doc-' || i,
              'bench/doc-' || i || '.md', 'Doc ' || i, 'text/markdown', '1', md5(i::text), 1 + i % 12,
              now() - (i % 60) * interval '1 day'
       FROM generate_series(1, 2000) i`,
    );
    const wf = await db.query<{ id: string }>(
      `INSERT INTO workflows (tenant_id, name, name_key, platform, channel_id, owner_id, last_run_at, last_run_status, next_run_at)
       SELECT 'default', 'Digest ' || i, 'digest ' || i, 'slack', 'C' || i, 'U1', now() - interval '1 hour',
              CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'succeeded' END, now() + interval '23 hours'
       FROM generate_series(1, 40) i RETURNING id::text`,
    );
    await db.query(
      `INSERT INTO workflow_runs (workflow_id, tenant_id, run_key, kind, scheduled_for, version, status, created_at)
       SELECT w::bigint, 'default', 'day-' || d, 'scheduled', now() - d * interval '1 day', 1,
              CASE WHEN (w::bigint + d) % 9 = 0 THEN 'failed' ELSE 'succeeded' END, now() - d * interval '1 day'
       FROM unnest($1::text[]) w, generate_series(0, 89) d`,
      [wf.rows.map((r) => r.id)],
    );
    if (pgUrl) await db.query("ANALYZE");
    const seedSeconds = (performance.now() - seedStart) / 1000;

    const reply = await server.atom.bot.handle(chat("dashboard"));
    const link = /http:\/\/127\.0\.0\.1:\d+\/dashboard\?link=\S+/.exec(reply.text)?.[0];
    if (!link) throw new Error(`the dashboard command gave no link: ${reply.text}`);
    const first = await fetch(link, { redirect: "manual" });
    const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    if (!cookie) throw new Error(`no admin session (status ${first.status})`);
    const url = `${server.url}/dashboard`;
    // Warm-up: JIT, first LanceDB stats, prepared plans.
    for (let i = 0; i < 10; i++) await (await fetch(url, { headers: { cookie } })).text();

    const load0 = os.loadavg()[0] ?? 0;
    const results: ModeResult[] = [];
    for (const mode of ["cached", "uncached"]) {
      const server: number[] = [];
      const data: number[] = [];
      const render: number[] = [];
      const serverCpu: number[] = [];
      const wall: number[] = [];
      const cpu0 = process.cpuUsage();
      for (let i = 0; i < requests; i++) {
        if (mode === "uncached") clearDashboardCache();
        const t0 = performance.now();
        const r = await fetch(url, { headers: { cookie } });
        const body = await r.text();
        wall.push(performance.now() - t0);
        if (r.status !== 200 || !body.includes("Atom dashboard"))
          throw new Error(`GET /dashboard → ${r.status}`);
        const timing = r.headers.get("server-timing") ?? "";
        const part = (name: string) => Number(new RegExp(`${name};dur=([\\d.]+)`).exec(timing)?.[1]);
        server.push(part("app"));
        data.push(part("data"));
        render.push(part("render"));
        serverCpu.push(part("cpu"));
      }
      const cpu = process.cpuUsage(cpu0);
      results.push({
        mode,
        server: summarize(server),
        data: summarize(data),
        render: summarize(render),
        serverCpu: summarize(serverCpu),
        wall: summarize(wall),
        cpuMsPerRequest: (cpu.user + cpu.system) / 1000 / requests,
      });
    }
    const load1 = os.loadavg()[0] ?? 0;

    // Each read of the page alone (the same calls the page makes), CPU ms per call.
    const since7d = new Date(Date.now() - 7 * 86_400_000);
    const parts: [string, () => Promise<unknown>][] = [
      ["audit log page (50 rows)", () => listAudit(db, { tenantId: "default", since: since7d, limit: 50 })],
      ["audit counts by action (7 d)", () => countAuditByAction(db, since7d, "default")],
      ["admin login lookup (first view only)", () => adminLoginRecorded(db, "default", "0123456789abcdef")],
      ["sources sync state (live)", () => sourceSyncStates(db, "default")],
      ["answers per day", () => answersPerDay(db, "default", 30)],
      ["document totals (per source + growth)", () => documentTotals(db, "default", 30)],
      ["workflows + 7 d runs", () => workflowSummaries(db, "default")],
      ["maintenance runs", () => lastMaintenanceRuns(db)],
      ["LanceDB table stats", () => server.atom.memory.store.tableStats()],
      ...server.atom.readiness.map((r): [string, () => Promise<unknown>] => [
        `health: ${r.name}`,
        () => Promise.resolve(r.check()),
      ]),
    ];
    const partRows: (string | number)[][] = [];
    for (const [name, fn] of parts) {
      await fn();
      const n = 30;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await fn();
      const c = process.cpuUsage(c0);
      partRows.push([name, round((performance.now() - t0) / n, 2), round((c.user + c.system) / 1000 / n, 2)]);
    }

    const where = pgUrl ? "PostgreSQL (DATABASE_URL)" : "embedded PGlite";
    console.log(
      `dashboard: ${requests} sequential requests per mode; ${where}; ${auditRows} audit rows of the workspace ` +
        `(+${auditRows * 9} of 9 others), 40 workflows × 90 daily runs, 3 000 answers, 2 000 documents; seeded in ${round(seedSeconds)} s`,
    );
    console.log(
      formatTable([
        [
          "mode",
          "server p50",
          "p95",
          "p99",
          "max",
          "data p95",
          "render p95",
          "server CPU p50",
          "p95",
          "wall p95",
          "CPU ms/req",
        ],
        ...results.map((r) => [
          r.mode,
          round(r.server.p50),
          round(r.server.p95),
          round(r.server.p99),
          round(r.server.max),
          round(r.data.p95),
          round(r.render.p95),
          round(r.serverCpu.p50),
          round(r.serverCpu.p95),
          round(r.wall.p95),
          round(r.cpuMsPerRequest),
        ]),
      ]),
    );
    console.log(formatTable([["part (alone, mean of 30)", "wall ms", "CPU ms"], ...partRows]));
    console.log(
      `(ms; server = Server-Timing app (wall), server CPU = its cpu entry; CPU ms/req = this process, client included; load average 1 min: ${load0.toFixed(2)} before, ${load1.toFixed(2)} after; ` +
        `node ${process.version}, ${os.cpus().length} CPUs)`,
    );
    const file = writeResults(path.join(import.meta.dirname, "results"), "dashboard", {
      database: where,
      requests,
      auditRows,
      load: { before: load0, after: load1 },
      results,
      parts: partRows,
    });
    console.log(`results: ${file}`);
  } finally {
    await server.close();
    if (pgUrl) {
      const admin = await openPostgres(pgUrl);
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
