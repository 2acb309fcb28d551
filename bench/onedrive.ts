/**
 * OneDrive sync benchmark: the loopback fake Microsoft identity platform and Graph v1.0 over https
 * (test/integration/fakes/microsoft-login.ts, graph.ts), the real `@azure/msal-node` and
 * `@microsoft/microsoft-graph-client`, a drive of `--items` text files (default 10 000, in folders
 * of 100; every 2nd shared with the organisation) connected through Atom's sign-in routes. Measures
 *  1. the first (full) sync: time, items/s, Graph calls (delta pages, permissions, downloads);
 *  2. an incremental sync after `--changes` files changed (default 10): time and calls, and both
 *     as a share of the full sync.
 * Syncs run as jobs of the `sync` queue, as in `atom serve`. Usage:
 *   node --import tsx bench/onedrive.ts [--items 10000] [--changes 10]
 * Results: printed, and written to bench/results/onedrive-*.json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../src/config.ts";
import { SYNC_QUEUE } from "../src/connections/types.ts";
import { createAtom } from "../src/main.ts";
import { silentLogger } from "../src/observability/logger.ts";
import { followSignIn, microsoftEnv, perm, startMicrosoftFakes } from "../test/helpers/onedrive.ts";
import { formatTable, numberArg, writeResults } from "./lib/output.ts";

const argv = process.argv.slice(2);
const ITEMS = numberArg(argv, "items", 10_000);
const CHANGES = numberArg(argv, "changes", 10);
const PUBLIC_URL = "https://atom.test.example";
const WORDS =
  "budget travel policy office laptop expense approval team review quarter launch roadmap hiring onboarding security incident vendor contract invoice training".split(
    " ",
  );

function text(i: number): string {
  const w = (k: number) => WORDS[(i * 7 + k * 13) % WORDS.length];
  return `Document ${i} covers the ${w(1)} and ${w(2)} of project ${i % 97}. The ${w(3)} owner is person ${i % 53}; the ${w(4)} is reviewed every ${(i % 12) + 1} weeks. Reference code ${i.toString(36)}.`;
}

async function main(): Promise<void> {
  const ms = await startMicrosoftFakes();
  ms.graph.pageSize = 200;
  const ids: string[] = [];
  let folder = "";
  for (let i = 0; i < ITEMS; i++) {
    if (i % 100 === 0)
      folder = ms.graph.put(ms.drive, { name: `Folder ${i / 100}`, folder: true, permissions: [] }).id;
    const owner = perm.owner("ana@contoso.com");
    ids.push(
      ms.graph.put(ms.drive, {
        name: `doc-${i}.txt`,
        text: text(i),
        parentId: folder,
        permissions: i % 2 === 0 ? [owner] : [owner, perm.org()],
      }).id,
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-bench-onedrive-"));
  const config = loadConfig({
    ...process.env,
    ATOM_DATA_DIR: dir,
    PUBLIC_URL,
    LOG_LEVEL: "silent",
    ...microsoftEnv(ms),
  });
  const atom = await createAtom(config, {
    logger: silentLogger,
    adapters: false,
    microsoft: { ca: ms.login.ca },
  });
  atom.jobs.start();
  const graphCalls = () => ms.graph.calls.length;
  const kinds = (from: number) => {
    const out = { delta: 0, permissions: 0, download: 0, item: 0 };
    for (const c of ms.graph.calls.slice(from)) {
      if (c.path.endsWith("/root/delta")) out.delta++;
      else if (c.path.endsWith("/permissions")) out.permissions++;
      else if (c.path.startsWith("/download/")) out.download++;
      else out.item++;
    }
    return out;
  };
  try {
    const link = await atom.connections.signInLink(atom.connections.provider("microsoft")!, {
      tenantId: "default",
      platform: "slack",
      userId: "UBENCH",
      userEmail: "ana@contoso.com",
    });
    const before = graphCalls();
    const t0 = performance.now();
    const page = await followSignIn(link, ms, (p, init) => atom.app.request(p, init));
    if (page.status !== 200) throw new Error(`callback failed: ${page.status}`);
    await atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 3_600_000, intervalMs: 200 });
    const fullMs = performance.now() - t0;
    const fullCalls = graphCalls() - before;
    const fullKinds = kinds(before);
    const conn = (await atom.connections.store.list())[0]!;
    if (conn.documents !== ITEMS) throw new Error(`expected ${ITEMS} documents, got ${conn.documents}`);

    for (let k = 0; k < CHANGES; k++) {
      const id = ids[Math.floor(((k + 1) * ITEMS) / (CHANGES + 1))]!;
      ms.graph.edit(ms.drive, id, `${text(k)} Edited in the incremental run ${k}: the heron budget moved.`);
    }
    const beforeIncr = graphCalls();
    const t1 = performance.now();
    await atom.connections.enqueueAll("manual");
    await atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 600_000, intervalMs: 20 });
    const incrMs = performance.now() - t1;
    const incrCalls = graphCalls() - beforeIncr;
    const incrKinds = kinds(beforeIncr);
    const [job] = await atom.jobs.store.list({ queue: SYNC_QUEUE, limit: 1 });
    const summary = (job?.result as { summary?: { updated?: number } })?.summary;
    if (summary?.updated !== CHANGES) throw new Error(`expected ${CHANGES} updated, got ${summary?.updated}`);

    const pct = (a: number, b: number) => Math.round((a / b) * 10_000) / 100;
    const results = {
      items: ITEMS,
      changes: CHANGES,
      database: config.databaseUrl ? "postgres" : "pglite",
      full: {
        ms: Math.round(fullMs),
        itemsPerSecond: Math.round((ITEMS / fullMs) * 10_000) / 10,
        graphCalls: fullCalls,
        kinds: fullKinds,
      },
      incremental: {
        ms: Math.round(incrMs),
        graphCalls: incrCalls,
        kinds: incrKinds,
        timeSharePct: pct(incrMs, fullMs),
        callSharePct: pct(incrCalls, fullCalls),
      },
      loadAverage: os.loadavg()[0] ?? 0,
      node: process.version,
    };
    console.log(
      formatTable([
        [
          "sync",
          "items",
          "time ms",
          "items/s",
          "Graph calls",
          "delta/perm/download",
          "time % of full",
          "calls % of full",
        ],
        [
          "full (first)",
          ITEMS,
          results.full.ms,
          results.full.itemsPerSecond,
          fullCalls,
          `${fullKinds.delta}/${fullKinds.permissions}/${fullKinds.download}`,
          100,
          100,
        ],
        [
          `incremental (${CHANGES} changed)`,
          CHANGES,
          results.incremental.ms,
          "-",
          incrCalls,
          `${incrKinds.delta}/${incrKinds.permissions}/${incrKinds.download}`,
          results.incremental.timeSharePct,
          results.incremental.callSharePct,
        ],
      ]),
    );
    console.log(`load average (1 min): ${results.loadAverage.toFixed(2)}`);
    console.log(`results: ${writeResults(path.join(import.meta.dirname, "results"), "onedrive", results)}`);
  } finally {
    await atom.close();
    await ms.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
