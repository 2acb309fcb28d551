import { describe, expect, it } from "vitest";
import { ingestExitCode } from "../../src/cli/ingest.ts";
import type { SyncSummary } from "../../src/memory/sync.ts";

const summary = (over: Partial<SyncSummary>): SyncSummary => ({
  source: "folder:docs",
  scanned: 3,
  added: 0,
  updated: 0,
  unchanged: 0,
  deleted: 0,
  chunks: 0,
  skipped: [],
  errors: [],
  durationMs: 10,
  ...over,
});

describe("atom ingest exit code", () => {
  it("is 1 when files failed and nothing is indexed (e.g. every embedding refused)", () => {
    const errors = [1, 2, 3].map((i) => ({ path: `f${i}.md`, reason: "embedding failed: 401" }));
    expect(ingestExitCode(summary({ errors }))).toBe(1);
  });
  it("is 0 when some files were indexed or kept despite unreadable ones", () => {
    const errors = [{ path: "broken.pdf", reason: "truncated" }];
    expect(ingestExitCode(summary({ added: 2, errors }))).toBe(0);
    expect(ingestExitCode(summary({ unchanged: 2, errors }))).toBe(0);
    expect(ingestExitCode(summary({ scanned: 0 }))).toBe(0);
  });
});
