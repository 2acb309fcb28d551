/** Summary of a set of latency samples, in milliseconds. */
export interface LatencySummary {
  /** Number of samples. */
  n: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` samples, nearest-rank method (the smallest
 * sample with at least p % of the samples at or below it). NaN when there are no samples.
 * @throws RangeError when p is outside 0..100.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (p < 0 || p > 100 || Number.isNaN(p)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** min, mean, p50/p95/p99 and max of `samples` (ms); NaN fields when empty. */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    n,
    min: n ? sorted[0]! : Number.NaN,
    mean: n ? sorted.reduce((s, x) => s + x, 0) / n : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: n ? sorted[n - 1]! : Number.NaN,
  };
}

/** Rounds to `digits` decimals for reports (NaN stays NaN). */
export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
