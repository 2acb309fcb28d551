import { Hono } from "hono";
import type { Logger } from "../observability/logger.ts";
import { registry } from "../observability/metrics.ts";
import { newRequestId, withRequestId } from "../observability/request-context.ts";

/**
 * A readiness probe part: resolves (optionally with a short detail, e.g. "auth.test ok at
 * 12:00:03Z") when healthy, throws with a short reason otherwise. A check with `critical: false`
 * is reported in `/readyz` but does not make the process unready (e.g. a chat platform whose token
 * was revoked: restarting the process would not fix it).
 */
export type ReadinessCheck = {
  name: string;
  check: () => Promise<unknown>;
  critical?: boolean;
};

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

  // A request id per request (X-Request-Id when given and safe): on every log line of the
  // request, echoed in the response, and carried into the jobs it queues (webhook → reply).
  app.use("*", async (c, next) => {
    const id = newRequestId(c.req.header("x-request-id"));
    c.header("X-Request-Id", id);
    await withRequestId(id, next);
  });

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.get("/readyz", async (c) => {
    const results = await Promise.all(
      deps.readiness.map(async (r) => {
        const critical = r.critical ?? true;
        try {
          const out = await withTimeout(r.check(), 5000);
          const detail = typeof out === "string" ? out : undefined;
          return { name: r.name, ok: true as const, critical, ...(detail ? { detail } : {}) };
        } catch (err) {
          return { name: r.name, ok: false as const, critical, error: (err as Error).message };
        }
      }),
    );
    const failing = results.filter((r) => !r.ok && r.critical);
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
