import { scrubSecrets } from "./logger.ts";

/** Where logged errors go besides the log (Sentry when `SENTRY_DSN` is set). */
export type ErrorSink = (err: unknown, context: Record<string, unknown>) => void;

let sink: ErrorSink | undefined;

/** The current sink (the logger calls it for every `error`/`fatal` line that carries an `err`). */
export function errorSink(): ErrorSink | undefined {
  return sink;
}

/** Header names whose values never leave the process. */
const SECRET_HEADERS = /^(authorization|cookie|set-cookie|x-slack-signature|x-api-key|proxy-authorization)$/i;
/** Field names whose values never leave the process. */
const SECRET_FIELD = /token|secret|password|api[-_]?key|authorization|cookie|dsn|sealed|master/i;

/**
 * Removes secrets from a Sentry event (or any JSON value): secret-named fields and headers are
 * replaced, every string is scrubbed of token shapes, signed links and cookies
 * ({@link scrubSecrets}), and the request's cookies and query string are dropped.
 */
export function scrubEvent<T>(event: T): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return scrubSecrets(v);
    if (!v || typeof v !== "object" || depth > 12) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (SECRET_FIELD.test(k) || SECRET_HEADERS.test(k)) out[k] = "[redacted]";
      else out[k] = walk(x, depth + 1);
    }
    return out;
  };
  const scrubbed = walk(event, 0) as Record<string, unknown>;
  const request = scrubbed.request as Record<string, unknown> | undefined;
  if (request) {
    delete request.cookies;
    delete request.query_string;
    delete request.data;
  }
  delete scrubbed.user;
  return scrubbed as T;
}

/**
 * Starts error reporting to Sentry when `dsn` is set (off by default): loads `@sentry/node` only
 * then, without tracing, default PII or automatic instrumentation; every event and breadcrumb
 * passes through {@link scrubEvent}. Errors logged at `error` or above with an `err` are sent.
 * @returns a function that flushes pending events and stops reporting.
 */
export async function startErrorReporting(opts: {
  dsn?: string;
  environment?: string;
  release?: string;
}): Promise<() => Promise<void>> {
  if (!opts.dsn) return async () => {};
  const Sentry = await import("@sentry/node");
  const client = Sentry.init({
    dsn: opts.dsn,
    environment: opts.environment ?? "production",
    release: opts.release,
    tracesSampleRate: 0,
    defaultIntegrations: false,
    beforeSend: (event) => scrubEvent(event),
    beforeBreadcrumb: (crumb) => scrubEvent(crumb),
  });
  sink = (err, context) => {
    Sentry.captureException(err instanceof Error ? err : new Error(String(err)), {
      extra: scrubEvent(context),
    });
  };
  return async () => {
    sink = undefined;
    await client?.close(2000);
  };
}
