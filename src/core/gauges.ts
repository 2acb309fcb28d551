import { connectionCounts } from "../db/ops-stats.ts";
import type { Db } from "../db/types.ts";
import type { JobStore } from "../db/jobs.ts";
import type { Memory } from "../memory/memory.ts";
import type { GaugeSource } from "../observability/metrics.ts";

/**
 * What the scrape-time gauges of `/metrics` read: job queue depth and age, connections by status,
 * and the LanceDB chunks table (rows, versions, bytes).
 */
export function createGaugeSource(deps: { db: Db; jobs: JobStore; memory: Memory }): GaugeSource {
  return {
    jobs: () => deps.jobs.stats(),
    connections: () => connectionCounts(deps.db),
    async lancedb() {
      const s = await deps.memory.store.tableStats();
      return { rows: s.rows, versions: s.versions, bytes: s.bytes };
    },
  };
}
