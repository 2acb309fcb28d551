import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backoffMs, JobWorker, PermanentJobError, RetryJobError } from "../../src/core/worker.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { testBackends } from "../helpers/memory.ts";

const logger = createLogger("silent");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(testBackends())("durable jobs on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  let store: JobStore;
  const workers: JobWorker[] = [];
  const worker = (opts: { workerId?: string; pollMs?: number; shutdownGraceMs?: number } = {}) => {
    const w = new JobWorker(store, { logger, pollMs: opts.pollMs ?? 50, ...opts });
    workers.push(w);
    return w;
  };

  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
    store = new JobStore(db);
  });
  beforeEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    await db.query("DELETE FROM jobs");
  });
  afterAll(async () => {
    for (const w of workers.splice(0)) await w.stop();
    await db?.close();
    await drop();
  });

  it("stores a job once per identity: a duplicate enqueue stops at the insert", async () => {
    const first = await store.enqueue({ queue: "message", tenantId: "t1", key: "C1:1.0", payload: { a: 1 } });
    const again = await store.enqueue({ queue: "message", tenantId: "t1", key: "C1:1.0", payload: { a: 2 } });
    const otherTenant = await store.enqueue({ queue: "message", tenantId: "t2", key: "C1:1.0", payload: {} });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(otherTenant.created).toBe(true);
    const job = await store.get<{ a: number }>("message", "t1", "C1:1.0");
    expect(job?.payload).toEqual({ a: 1 });
    expect(job?.status).toBe("queued");
  });

  it("lists jobs newest first by numeric id (job 10 before job 9)", async () => {
    for (let i = 1; i <= 11; i++)
      await store.enqueue({ queue: "order", tenantId: "t", key: `k${i}`, payload: {} });
    const keys = (await store.list({ queue: "order", limit: 3 })).map((j) => j.key);
    expect(keys).toEqual(["k11", "k10", "k9"]);
  });

  it("runs a job once, stores its result, and drains", async () => {
    const w = worker();
    const seen: string[] = [];
    w.register<{ n: number }>("message", async (job) => {
      seen.push(job.key);
      return { doubled: job.payload.n * 2 };
    });
    w.start();
    await w.enqueue({ queue: "message", tenantId: "t", key: "k1", payload: { n: 21 } });
    await w.drain();
    expect(seen).toEqual(["k1"]);
    const job = await store.get("message", "t", "k1");
    expect(job?.status).toBe("done");
    expect(job?.result).toEqual({ doubled: 42 });
    expect(job?.attempts).toBe(1);
    expect(await store.pending(["message"])).toBe(0);
  });

  it("finds jobs enqueued by another process by polling", async () => {
    const w = worker({ pollMs: 30 });
    const seen: string[] = [];
    w.register("message", async (job) => {
      seen.push(job.key);
    });
    w.start();
    // Another process enqueues straight into the table: no wake-up reaches this worker.
    await new JobStore(db).enqueue({ queue: "message", tenantId: "t", key: "remote", payload: {} });
    await w.drain({ timeoutMs: 5000 });
    expect(seen).toEqual(["remote"]);
  });

  it("retries transient failures with backoff and succeeds", async () => {
    const w = worker();
    let calls = 0;
    w.register(
      "sync",
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`temporary failure ${calls}`);
        return "ok";
      },
      { backoff: { minMs: 10, maxMs: 20 } },
    );
    w.start();
    await w.enqueue({ queue: "sync", tenantId: "t", key: "s1", payload: {} });
    await waitFor(async () => (await store.get("sync", "t", "s1"))?.status === "done");
    const job = await store.get("sync", "t", "s1");
    expect(calls).toBe(3);
    expect(job?.attempts).toBe(3);
    expect(job?.lastError).toBe("temporary failure 2");
  });

  it("moves a job to the dead-letter state with its reason after max attempts", async () => {
    const w = worker();
    let calls = 0;
    w.register(
      "sync",
      async () => {
        calls += 1;
        throw new Error("upstream is down");
      },
      { backoff: { minMs: 5, maxMs: 10 } },
    );
    w.start();
    await w.enqueue({ queue: "sync", tenantId: "t", key: "s2", payload: {}, maxAttempts: 3 });
    await waitFor(async () => (await store.get("sync", "t", "s2"))?.status === "dead");
    const job = await store.get("sync", "t", "s2");
    expect(calls).toBe(3);
    expect(job?.lastError).toBe("upstream is down");
    expect(job?.finishedAt).toBeInstanceOf(Date);
  });

  it("does not retry a permanent failure", async () => {
    const w = worker();
    let calls = 0;
    w.register("message", async () => {
      calls += 1;
      throw new PermanentJobError("malformed payload");
    });
    w.start();
    await w.enqueue({ queue: "message", tenantId: "t", key: "bad", payload: {} });
    await waitFor(async () => (await store.get("message", "t", "bad"))?.status === "dead");
    expect(calls).toBe(1);
    expect((await store.get("message", "t", "bad"))?.lastError).toBe("malformed payload");
  });

  it("waits the delay a handler asks for (Retry-After) before the next attempt", async () => {
    const w = worker();
    const starts: number[] = [];
    w.register("sync", async () => {
      starts.push(Date.now());
      if (starts.length === 1) throw new RetryJobError("429 from the API", 400);
    });
    w.start();
    await w.enqueue({ queue: "sync", tenantId: "t", key: "r1", payload: {} });
    await waitFor(
      async () => (await store.get("sync", "t", "r1"))?.status === "queued" && starts.length === 1,
    );
    // The retry is scheduled for later: it is not due, so the queue counts as drained now.
    expect(await store.pending(["sync"], true)).toBe(0);
    expect(await store.pending(["sync"], false)).toBe(1);
    await waitFor(async () => (await store.get("sync", "t", "r1"))?.status === "done");
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(350);
  });

  it("takes over a job whose worker died once the lease expires; the old worker cannot overwrite it", async () => {
    await store.enqueue({ queue: "message", tenantId: "t", key: "m1", payload: {} });
    const dead = await store.claim("message", "dead-worker", 1, 200);
    expect(dead.map((j) => j.key)).toEqual(["m1"]);
    // While the lease holds nobody else gets it.
    expect(await store.claim("message", "other", 1, 200)).toEqual([]);
    await sleep(300);
    const taken = await store.claim("message", "other", 1, 10_000);
    expect(taken.map((j) => j.key)).toEqual(["m1"]);
    expect(taken[0]!.attempts).toBe(2);
    // The first worker wakes up late: its completion is refused, the new owner's stands.
    expect(await store.complete(dead[0]!.id, "dead-worker", "late")).toBe(false);
    expect(await store.complete(taken[0]!.id, "other", "fresh")).toBe(true);
    expect((await store.get("message", "t", "m1"))?.result).toBe("fresh");
  });

  it("buries a job that kept killing its workers instead of looping for ever", async () => {
    await store.enqueue({ queue: "message", tenantId: "t", key: "poison", payload: {}, maxAttempts: 2 });
    for (let i = 0; i < 2; i++) {
      expect((await store.claim("message", `crashy-${i}`, 1, 50)).length).toBe(1);
      await sleep(80);
    }
    const w = worker();
    let ran = false;
    w.register("message", async () => {
      ran = true;
    });
    w.start();
    await waitFor(async () => (await store.get("message", "t", "poison"))?.status === "dead");
    expect(ran).toBe(false);
    expect((await store.get("message", "t", "poison"))?.lastError).toMatch(/abandoned/);
  });

  it("never runs two jobs of one singleton key at once, and keeps at most one waiting", async () => {
    const w = worker();
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    w.register(
      "sync",
      async () => {
        active += 1;
        runs += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(100);
        active -= 1;
      },
      { concurrency: 4 },
    );
    const a = await store.enqueue({
      queue: "sync",
      tenantId: "t",
      key: "a",
      singletonKey: "conn-1",
      payload: {},
    });
    const b = await store.enqueue({
      queue: "sync",
      tenantId: "t",
      key: "b",
      singletonKey: "conn-1",
      payload: {},
    });
    const c = await store.enqueue({
      queue: "sync",
      tenantId: "t",
      key: "c",
      singletonKey: "conn-2",
      payload: {},
    });
    expect([a.created, b.created, c.created]).toEqual([true, false, true]);
    w.start();
    await waitFor(async () => (await store.get("sync", "t", "a"))?.status === "running");
    // While conn-1 runs, one more may wait…
    expect(
      (await store.enqueue({ queue: "sync", tenantId: "t", key: "d", singletonKey: "conn-1", payload: {} }))
        .created,
    ).toBe(true);
    // …but only one.
    expect(
      (await store.enqueue({ queue: "sync", tenantId: "t", key: "e", singletonKey: "conn-1", payload: {} }))
        .created,
    ).toBe(false);
    await w.drain({ timeoutMs: 10_000 });
    expect(runs).toBe(3);
    // conn-1's two runs never overlapped; conn-2 ran beside them.
    expect(maxActive).toBe(2);
    const d = await store.get("sync", "t", "d");
    const aJob = await store.get("sync", "t", "a");
    expect(d?.status).toBe("done");
    expect(d!.finishedAt!.getTime()).toBeGreaterThan(aJob!.finishedAt!.getTime());
  });

  it("bounds concurrency per queue", async () => {
    const w = worker();
    let active = 0;
    let maxActive = 0;
    w.register(
      "message",
      async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(30);
        active -= 1;
      },
      { concurrency: 3 },
    );
    w.start();
    for (let i = 0; i < 12; i++)
      await w.enqueue({ queue: "message", tenantId: "t", key: `c${i}`, payload: {} });
    await w.drain({ timeoutMs: 10_000 });
    expect(maxActive).toBe(3);
    expect((await store.list({ queue: "message", status: ["done"] })).length).toBe(12);
  });

  it("hands a running job back at shutdown without counting the attempt", async () => {
    const w = worker({ shutdownGraceMs: 50 });
    let started = false;
    w.register("sync", async (_job, { signal }) => {
      started = true;
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      throw signal.reason;
    });
    w.start();
    await w.enqueue({ queue: "sync", tenantId: "t", key: "long", payload: {} });
    await waitFor(async () => started);
    await w.stop();
    const job = await store.get("sync", "t", "long");
    expect(job?.status).toBe("queued");
    expect(job?.attempts).toBe(0);
    // Another worker picks it up at once.
    const next = worker();
    let ranAgain = false;
    next.register("sync", async () => {
      ranAgain = true;
    });
    next.start();
    await next.drain();
    expect(ranAgain).toBe(true);
  });

  it("reports queue depth and the oldest job's age, and prunes finished jobs past retention", async () => {
    await store.enqueue({ queue: "message", tenantId: "t", key: "old", payload: {} });
    await store.enqueue({ queue: "message", tenantId: "t", key: "new", payload: {} });
    await db.query("UPDATE jobs SET run_at = now() - interval '90 seconds' WHERE job_key = 'old'");
    const stats = await store.stats();
    const queued = stats.find((s) => s.queue === "message" && s.status === "queued");
    expect(queued?.count).toBe(2);
    expect(queued!.oldestAgeSeconds).toBeGreaterThanOrEqual(89);

    const [claimed] = await store.claim("message", "w", 1, 10_000);
    await store.complete(claimed!.id, "w");
    await db.query("UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id = $1::bigint", [
      claimed!.id,
    ]);
    expect(await store.prune({ doneOlderThanMs: 7 * 86_400_000 })).toBe(1);
    expect(await store.get("message", "t", claimed!.key)).toBeUndefined();
    // The queued one is untouched.
    expect((await store.list({ queue: "message" })).map((j) => j.key)).toEqual(["new"]);
  });

  if (backend.name === "PostgreSQL") {
    it("concurrent claims on separate pooled connections never take the same job", async () => {
      for (let i = 0; i < 40; i++) {
        await store.enqueue({ queue: "message", tenantId: "t", key: `p${i}`, payload: {} });
      }
      // The pg pool runs these eight claims on separate connections at the same time.
      const claimed = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.claim("message", `w${i}`, 10, 10_000)),
      );
      const keys = claimed.flat().map((j) => j.key);
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys.length).toBe(40);
    });
  }
});

describe("backoff", () => {
  it("grows exponentially with jitter and respects the cap", () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const base = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      const v = backoffMs(attempt, 1000, 60_000);
      expect(v).toBeGreaterThanOrEqual(base / 2);
      expect(v).toBeLessThanOrEqual(base);
    }
  });
});

/** Polls `cond` every 20 ms until it holds (or fails the test after `timeoutMs`). */
async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
