import { Hono } from "hono";
import type { Logger } from "../observability/logger.ts";
import { registry } from "../observability/metrics.ts";

/** A readiness probe part: resolves when healthy, throws with a short reason otherwise. */
export type ReadinessCheck = { name: string; check: () => Promise<void> };

/** Adds routes (webhooks, OAuth, pages) to the app. Adapters export one each. */
export type RouteMounter = (app: Hono) => void;

export interface ServerDeps {
  logger: Logger;
  readiness: ReadinessCheck[];
  routes?: RouteMounter[];
}

/**
 * Builds the Hono app: `GET /healthz` (process alive), `GET /readyz` (every readiness check
 * passes, else 503 naming the failing parts), `GET /metrics` (Prometheus text), plus the routes
 * the adapters mount.
 */
export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.get("/readyz", async (c) => {
    const results = await Promise.all(
      deps.readiness.map(async (r) => {
        try {
          await withTimeout(r.check(), 5000);
          return { name: r.name, ok: true as const };
        } catch (err) {
          return { name: r.name, ok: false as const, error: (err as Error).message };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok);
    if (failing.length > 0) {
      deps.logger.warn({ failing }, "readiness check failed");
      return c.json({ ok: false, failing: failing.map((f) => f.name), checks: results }, 503);
    }
    return c.json({ ok: true, checks: results });
  });

  app.get("/metrics", async (c) => {
    c.header("Content-Type", registry.contentType);
    return c.body(await registry.metrics());
  });

  for (const mount of deps.routes ?? []) mount(app);

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    deps.logger.error({ err, path: c.req.path }, "unhandled request error");
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
