/**
 * Recent latencies per key (a tenant) in this process, for `status` and the dashboard:
 * p50/p95 over a sliding window. Bounded: at most `maxSamples` per key, oldest dropped first.
 */
export class LatencyWindow {
  private readonly samples = new Map<string, { at: number; ms: number }[]>();

  constructor(
    /** Window length, ms (default one hour). */
    private readonly windowMs = 3_600_000,
    private readonly maxSamples = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one latency in milliseconds for `key`. */
  record(key: string, ms: number): void {
    let list = this.samples.get(key);
    if (!list) {
      list = [];
      this.samples.set(key, list);
    }
    list.push({ at: this.now(), ms });
    if (list.length > this.maxSamples) list.splice(0, list.length - this.maxSamples);
  }

  /** p50 and p95 (nearest rank, ms) and the count over the window; undefined without samples. */
  summary(key: string): { p50: number; p95: number; count: number } | undefined {
    const since = this.now() - this.windowMs;
    const list = (this.samples.get(key) ?? []).filter((s) => s.at >= since);
    this.samples.set(key, list);
    if (list.length === 0) return undefined;
    const sorted = list.map((s) => s.ms).sort((a, b) => a - b);
    const rank = (p: number) =>
      sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
    return { p50: rank(0.5), p95: rank(0.95), count: sorted.length };
  }
}
