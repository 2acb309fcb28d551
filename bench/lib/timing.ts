/** Milliseconds since an arbitrary origin, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/** Runs `fn` once and returns its result with the wall time it took, in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Bounds of a latency run. */
export interface SampleOptions {
  /** Passes over the whole input list (after warm-up). */
  rounds: number;
  /** Passes over the input list first, not recorded (caches, JIT, lazily built state). */
  warmupRounds?: number;
  /** Stops recording once this much wall time (ms) has passed, whatever `rounds` says. */
  maxMs?: number;
  /** …but records at least this many samples before the time limit applies. */
  minSamples?: number;
}

/**
 * Calls `fn` sequentially (one call in flight) for each input, `rounds` times, after
 * `warmupRounds` unrecorded passes, and returns each call's wall time in ms. Stops early at
 * `maxMs` once `minSamples` were recorded, so a slow baseline cannot run for ever.
 */
export async function sampleLatencies<I>(
  inputs: readonly I[],
  fn: (input: I) => Promise<unknown>,
  opts: SampleOptions,
): Promise<number[]> {
  for (let r = 0; r < (opts.warmupRounds ?? 0); r++) for (const input of inputs) await fn(input);
  const samples: number[] = [];
  const started = performance.now();
  const maxMs = opts.maxMs ?? Number.POSITIVE_INFINITY;
  const minSamples = opts.minSamples ?? 1;
  for (let r = 0; r < opts.rounds; r++) {
    for (const input of inputs) {
      if (samples.length >= minSamples && performance.now() - started > maxMs) return samples;
      const t0 = performance.now();
      await fn(input);
      samples.push(performance.now() - t0);
    }
  }
  return samples;
}

/** Raised by `withTimeout` when the operation did not settle in time. */
export class TimeoutError extends Error {}

/**
 * Resolves like `promise`, or rejects with TimeoutError after `ms` milliseconds (the operation
 * itself is not cancelled; the timer does not keep the process alive).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
