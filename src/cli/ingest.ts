import fs from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import { DEFAULT_TENANT } from "../config.ts";
import type { Memory } from "../memory/memory.ts";
import type { SyncSummary } from "../memory/sync.ts";
import { type CliIo, UsageError } from "./runtime.ts";

/**
 * Indexes a folder into the default tenant, with a progress bar (files, rate, errors) when
 * stderr is a terminal, and returns the summary.
 * @throws UsageError when the folder does not exist.
 */
export async function ingestFolder(
  memory: Memory,
  dir: string,
  io: CliIo,
  quiet = false,
): Promise<SyncSummary> {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new UsageError(`not a folder: ${dir}`);
  const tty = !quiet && Boolean(io.stderr.isTTY);
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: "indexing |{bar}| {value}/{total} files | {rate} files/s | {errors} errors | {file}",
          stream: io.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const started = Date.now();
  let barStarted = false;
  const summary = await memory.syncFolder(abs, {
    tenantId: DEFAULT_TENANT,
    onProgress: (p) => {
      if (!bar) return;
      if (!barStarted) {
        bar.start(p.total, 0, { rate: "0", errors: 0, file: "" });
        barStarted = true;
      }
      const secs = Math.max((Date.now() - started) / 1000, 0.001);
      bar.update(p.done, {
        rate: (p.done / secs).toFixed(0),
        errors: p.errors,
        file: (p.current ?? "").slice(-40),
      });
    },
  });
  if (barStarted) bar?.stop();
  return summary;
}

/**
 * Exit code of `atom ingest`: 1 when files failed and none is in memory afterwards (e.g. every
 * file was unreadable), so scripts notice that nothing was indexed; 0 otherwise (single unreadable
 * files are reported in the summary). Embeddings are not made here: `atom serve` makes them in the
 * background.
 */
export function ingestExitCode(s: SyncSummary): number {
  return s.errors.length > 0 && s.added + s.updated + s.unchanged === 0 ? 1 : 0;
}

/** Human summary of a sync, one fact per line; problems listed with their reasons. */
export function formatSummary(s: SyncSummary): string {
  const secs = s.durationMs / 1000;
  const processed = s.added + s.updated;
  const lines = [
    `Synced ${s.scanned} files in ${secs.toFixed(1)} s: ${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.deleted} removed, ${s.errors.length} unreadable; ${s.chunks} passages written.`,
  ];
  if (processed > 0) {
    const rate = processed / Math.max(secs, 0.001);
    lines.push(`Rate: ${rate < 10 ? rate.toFixed(1) : rate.toFixed(0)} files/s.`);
  }
  if (s.skipped.length > 0) {
    lines.push(`Skipped ${s.skipped.length} file(s) of unsupported types:`);
    for (const p of s.skipped.slice(0, 20)) lines.push(`  - ${p.path}: ${p.reason}`);
    if (s.skipped.length > 20) lines.push(`  … and ${s.skipped.length - 20} more`);
  }
  if (s.errors.length > 0) {
    lines.push(`Could not read ${s.errors.length} file(s):`);
    for (const p of s.errors) lines.push(`  - ${p.path}: ${p.reason}`);
  }
  return lines.join("\n");
}
