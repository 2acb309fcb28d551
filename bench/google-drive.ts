/**
 * Google Drive sync benchmark: a loopback fake Drive (Drive v3 wire format, the real
 * `@googleapis/drive` client) with `--files` documents (default 10 000: Google Docs, every 10th a
 * Sheet, every 20th a Markdown file), connected through Atom's real OAuth flow. Measures
 *  1. the first (full) sync: time, files/s, Drive API calls;
 *  2. an incremental sync after `--changes` files changed (default 10): time and API calls, and
 *     both as a share of the full sync (goal ≤ 2 %).
 * Syncs run as jobs of the `sync` queue, as in `atom serve`. Usage:
 *   node --import tsx bench/google-drive.ts [--files 10000] [--changes 10]
 * Results: printed, and written to bench/results/google-drive-*.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config.ts";
import { SYNC_QUEUE } from "../src/connections/types.ts";
import { createAtom } from "../src/main.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { FakeGoogle } from "../test/integration/fakes/google.ts";
import { formatTable, numberArg, writeResults } from "./lib/output.ts";

const argv = process.argv.slice(2);
const FILES = numberArg(argv, "files", 10_000);
const CHANGES = numberArg(argv, "changes", 10);
const PUBLIC_URL = "https://atom.bench.example";
const WORDS =
  "budget travel policy office laptop expense approval team review quarter launch roadmap hiring onboarding security incident vendor contract invoice training".split(
    " ",
  );

function text(i: number): string {
  const w = (k: number) => WORDS[(i * 7 + k * 13) % WORDS.length];
  return `Document ${i} covers the ${w(1)} and ${w(2)} of project ${i % 97}. The ${w(3)} owner is person ${i % 53}; the ${w(4)} is reviewed every ${(i % 12) + 1} weeks. Reference code ${i.toString(36)}.`;
}

async function main(): Promise<void> {
  const fake = await FakeGoogle.start();
  const ids: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const isSheet = i % 10 === 0;
    const isMd = !isSheet && i % 20 === 5;
    const f = fake.addFile({
      name: isMd ? `notes-${i}.md` : `Doc ${i}`,
      mimeType: isSheet
        ? "application/vnd.google-apps.spreadsheet"
        : isMd
          ? "text/markdown"
          : "application/vnd.google-apps.document",
      text: isSheet ? `item,owner,weeks\n${i},person ${i % 53},${(i % 12) + 1}\n` : text(i),
      permissions:
        i % 2 === 0
          ? [{ type: "user", role: "owner", emailAddress: "ana@example.com" }]
          : [
              { type: "user", role: "owner", emailAddress: "ana@example.com" },
              { type: "domain", domain: "example.com", allowFileDiscovery: true },
            ],
    });
    ids.push(f.id);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-gdrive-"));
  const config = loadConfig({
    ...process.env,
    ATOM_DATA_DIR: dir,
    PUBLIC_URL,
    LOG_LEVEL: "silent",
    GOOGLE_CLIENT_ID: fake.clientId,
    GOOGLE_CLIENT_SECRET: fake.clientSecret,
    GOOGLE_OAUTH_AUTHORIZE_URL: fake.authorizeUrl,
    GOOGLE_OAUTH_TOKEN_URL: fake.tokenUrl,
    GOOGLE_DRIVE_API_URL: fake.apiUrl,
  });
  const atom = await createAtom(config, { logger: silentLogger, adapters: false });
  atom.jobs.start();
  try {
    // Sign in through Atom's routes and the fake consent page.
    const link = await atom.connections.signInLink(atom.connections.provider("google")!, {
      tenantId: "default",
      platform: "slack",
      userId: "UBENCH",
      userEmail: "ana@example.com",
    });
    const start = await atom.app.request(link.replace(PUBLIC_URL, ""));
    const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0]!;
    const consent = await fetch(start.headers.get("location")!, { redirect: "manual" });
    const back = new URL(consent.headers.get("location")!);
    const apiCalls = () =>
      fake.calls.filter((c) => c.path.startsWith("/drive/") || c.path === "/token").length;

    const callsBeforeFull = apiCalls();
    const t0 = performance.now();
    const done = await atom.app.request(`${back.pathname}${back.search}`, { headers: { cookie } });
    if (done.status !== 200) throw new Error(`callback failed: ${done.status}`);
    await atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 3_600_000, intervalMs: 200 });
    const fullMs = performance.now() - t0;
    const fullCalls = apiCalls() - callsBeforeFull;
    const conn = (await atom.connections.store.list())[0]!;
    if (conn.documents !== FILES) throw new Error(`expected ${FILES} documents, got ${conn.documents}`);

    for (let k = 0; k < CHANGES; k++) {
      const id = ids[Math.floor(((k + 1) * FILES) / (CHANGES + 1))]!;
      fake.editFile(id, `${text(k)} Edited in the incremental run ${k}: the heron budget moved.`);
    }
    const callsBeforeIncr = apiCalls();
    const t1 = performance.now();
    await atom.connections.enqueueAll("manual");
    await atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 600_000, intervalMs: 20 });
    const incrMs = performance.now() - t1;
    const incrCalls = apiCalls() - callsBeforeIncr;
    const [job] = await atom.jobs.store.list({ queue: SYNC_QUEUE, limit: 1 });
    const summary = (job?.result as { summary?: { updated?: number; fetched?: number } })?.summary;
    if (summary?.updated !== CHANGES) throw new Error(`expected ${CHANGES} updated, got ${summary?.updated}`);

    const pct = (a: number, b: number) => Math.round((a / b) * 10_000) / 100;
    const results = {
      files: FILES,
      changes: CHANGES,
      database: config.databaseUrl ? "postgres" : "pglite",
      full: {
        ms: Math.round(fullMs),
        filesPerSecond: Math.round((FILES / fullMs) * 1000 * 10) / 10,
        apiCalls: fullCalls,
      },
      incremental: {
        ms: Math.round(incrMs),
        apiCalls: incrCalls,
        fetched: summary?.fetched,
        timeSharePct: pct(incrMs, fullMs),
        callSharePct: pct(incrCalls, fullCalls),
      },
      loadAverage: os.loadavg()[0] ?? 0,
      node: process.version,
    };
    console.log(
      formatTable([
        ["sync", "files", "time ms", "files/s", "API calls", "time % of full", "calls % of full"],
        ["full (first)", FILES, results.full.ms, results.full.filesPerSecond, fullCalls, 100, 100],
        [
          `incremental (${CHANGES} changed)`,
          CHANGES,
          results.incremental.ms,
          "-",
          incrCalls,
          results.incremental.timeSharePct,
          results.incremental.callSharePct,
        ],
      ]),
    );
    console.log(`load average (1 min): ${results.loadAverage.toFixed(2)}`);
    console.log(
      `results: ${writeResults(path.join(import.meta.dirname, "results"), "google-drive", results)}`,
    );
  } finally {
    await atom.close();
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
