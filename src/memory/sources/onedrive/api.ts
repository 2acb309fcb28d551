import https from "node:https";
import {
  AuthenticationHandler,
  Client,
  type Context,
  type Middleware,
} from "@microsoft/microsoft-graph-client";
import { backoffMs } from "../../../core/worker.ts";
import { SourceUnavailableError } from "../../feed-sync.ts";
import { type AccessTokens, DEFAULT_RETRY, type RetryPolicy, retryAfterMs } from "../google-drive/api.ts";

/** Default root of Microsoft Graph. */
export const GRAPH_API_URL = "https://graph.microsoft.com";

/** A `fetch` (the global one, or one trusting an extra CA in tests and private clouds). */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A Graph answer Atom does not retry: status, Graph's error `code` and message (no secrets). */
export class GraphApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "GraphApiError";
  }
}

/** A pre-authenticated download URL that no longer works (401/403): ask Graph for a new one. */
export class DownloadUrlExpiredError extends Error {
  constructor(readonly status: number) {
    super(`the download URL was refused (${status})`);
    this.name = "DownloadUrlExpiredError";
  }
}

/**
 * Concurrency of Graph requests that adapts to throttling: every 429/503 halves the number of
 * requests in flight (down to 1); it grows back by one after `recoverAfter` successes in a row.
 * Microsoft asks clients to slow down when throttled (https://learn.microsoft.com/graph/throttling).
 */
export class AdaptiveLimit {
  private active = 0;
  private streak = 0;
  private readonly waiters: (() => void)[] = [];
  /** Requests allowed in flight now. */
  limit: number;
  /** Lowest limit reached (tests and reports). */
  lowest: number;

  constructor(
    readonly max: number,
    private readonly recoverAfter = 20,
  ) {
    this.limit = max;
    this.lowest = max;
  }

  async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
  }

  throttled(): void {
    this.streak = 0;
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.lowest = Math.min(this.lowest, this.limit);
  }

  succeeded(): void {
    if (this.limit >= this.max) return;
    if (++this.streak >= this.recoverAfter) {
      this.streak = 0;
      this.limit++;
      this.waiters.shift()?.();
    }
  }
}

/** What a failed call says. */
interface Failure {
  status: number;
  code: string;
  message: string;
  retryAfterMs?: number;
  network: boolean;
}

function describe(err: unknown): Failure {
  const e = err as {
    statusCode?: number;
    code?: string;
    message?: string;
    headers?: Headers;
    status?: number;
  };
  const status = Number(e.statusCode ?? e.status ?? 0);
  const headers = e.headers;
  const retryAfter =
    headers && typeof headers.get === "function" ? (headers.get("retry-after") ?? undefined) : undefined;
  return {
    status: Math.max(status, 0),
    code: String(e.code ?? ""),
    message: String(e.message ?? (status > 0 ? `HTTP ${status}` : "request failed")).slice(0, 300),
    retryAfterMs: retryAfterMs(retryAfter),
    network: !(status > 0),
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      },
      { once: true },
    );
  });

/** The last middleware of Atom's Graph client: sends the request with Atom's `fetch`. */
class Transport implements Middleware {
  constructor(private readonly fetchImpl: FetchLike) {}
  async execute(context: Context): Promise<void> {
    const url = typeof context.request === "string" ? context.request : context.request.url;
    context.response = await this.fetchImpl(url, context.options as RequestInit);
  }
}

/** Settings of {@link GraphApi}. */
export interface GraphApiOptions {
  /** Root URL (MICROSOFT_GRAPH_API_URL); must be https (the Graph client sends tokens only there). */
  apiUrl: string;
  tokens: AccessTokens;
  /** Requests in flight at most (ATOM_SYNC_CONCURRENCY). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  fetch?: FetchLike;
}

/**
 * Microsoft Graph v1.0 through `@microsoft/microsoft-graph-client` 3 with Atom's policy instead of
 * the library's retry handler: every request carries a current access token (its
 * AuthenticationHandler, which sends it only to Graph or the configured https host); a 401 renews
 * the token once and repeats; 429 and 503 (and other 5xx, network failures) wait what
 * `Retry-After` says — any case — or back off exponentially with jitter, and lower the number of
 * requests in flight while throttled ({@link AdaptiveLimit}); other errors become
 * {@link GraphApiError}. Counts calls per method.
 */
export class GraphApi {
  readonly client: Client;
  readonly calls = new Map<string, number>();
  readonly limit: AdaptiveLimit;
  private readonly policy: RetryPolicy;
  private readonly fetchImpl: FetchLike;
  private lastToken = "";

  constructor(private readonly opts: GraphApiOptions) {
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.fetchImpl = opts.fetch ?? ((u, i) => fetch(u, i));
    this.limit = new AdaptiveLimit(opts.concurrency ?? 4);
    const base = new URL(opts.apiUrl);
    const auth = new AuthenticationHandler({
      getAccessToken: async () => {
        this.lastToken = await opts.tokens.get();
        return this.lastToken;
      },
    });
    auth.setNext(new Transport(this.fetchImpl));
    this.client = Client.initWithMiddleware({
      middleware: auth,
      baseUrl: `${base.origin}/`,
      defaultVersion: "v1.0",
      ...(base.hostname === "graph.microsoft.com" ? {} : { customHosts: new Set([base.hostname]) }),
    });
  }

  /** Total calls made (every attempt counts). */
  get totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /**
   * Runs one Graph request under the policy.
   * @throws GraphApiError (an answer not retried), SourceUnavailableError (retries exhausted or a
   *   long Retry-After), InvalidGrantError (the grant is gone).
   */
  async call<T>(method: string, op: (c: Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
      await this.limit.acquire();
      let failure: Failure;
      try {
        const r = await op(this.client);
        this.limit.succeeded();
        return r;
      } catch (err) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
        if ((err as Error)?.name === "InvalidGrantError") throw err;
        failure = describe(err);
      } finally {
        this.limit.release();
      }
      if (failure.status === 401 && !refreshed) {
        refreshed = true;
        await this.opts.tokens.refreshAfter(this.lastToken);
        attempt--;
        continue;
      }
      await this.retryOrThrow(`Microsoft Graph ${method}`, failure, attempt, signal);
    }
  }

  /**
   * Downloads a pre-authenticated `@microsoft.graph.downloadUrl` verbatim, without an
   * Authorization header (such URLs refuse one), under the same retry policy.
   * @throws DownloadUrlExpiredError on 401/403 (get a fresh URL), GraphApiError for 404 and others.
   */
  async download(url: string, signal?: AbortSignal): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      this.calls.set("download", (this.calls.get("download") ?? 0) + 1);
      await this.limit.acquire();
      let failure: Failure;
      try {
        const res = await this.fetchImpl(url, { signal, redirect: "follow" });
        const bytes = Buffer.from(await res.arrayBuffer());
        if (res.ok) {
          this.limit.succeeded();
          return bytes;
        }
        if (res.status === 401 || res.status === 403) throw new DownloadUrlExpiredError(res.status);
        let code = "";
        try {
          code = String(
            (JSON.parse(bytes.toString("utf8")) as { error?: { code?: string } }).error?.code ?? "",
          );
        } catch {}
        failure = {
          status: res.status,
          code,
          message: `download answered ${res.status}`,
          retryAfterMs: retryAfterMs(res.headers.get("retry-after")),
          network: false,
        };
      } catch (err) {
        if (err instanceof DownloadUrlExpiredError) throw err;
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
        failure = { status: 0, code: "", message: (err as Error).message, network: true };
      } finally {
        this.limit.release();
      }
      await this.retryOrThrow("OneDrive download", failure, attempt, signal);
    }
  }

  /** Waits before the next attempt, or throws when the failure is final. */
  private async retryOrThrow(what: string, f: Failure, attempt: number, signal?: AbortSignal): Promise<void> {
    const throttled = f.status === 429 || f.status === 503;
    const retryable = f.network || throttled || f.status >= 500;
    if (!retryable) throw new GraphApiError(f.status, f.code, f.message);
    if (throttled) this.limit.throttled();
    const wait = f.retryAfterMs ?? backoffMs(attempt, this.policy.minMs, this.policy.maxMs);
    const label = `${what}: ${f.status || "network error"}${f.code ? ` ${f.code}` : ""}`;
    if (attempt >= this.policy.attempts)
      throw new SourceUnavailableError(`${label} after ${attempt} attempts`, f.retryAfterMs, throttled);
    if (wait > this.policy.maxWaitMs)
      throw new SourceUnavailableError(`${label}; retry after ${wait} ms`, wait, throttled);
    await (this.policy.sleep ?? sleep)(wait, signal);
  }
}

/**
 * A `fetch` over node:https that trusts `ca` (PEM) in addition to nothing else — for loopback tests
 * and private clouds where setting NODE_EXTRA_CA_CERTS is not possible. Returns a standard Response.
 */
export function fetchTrusting(ca: string): FetchLike {
  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(input);
      const headers: Record<string, string> = {};
      new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).forEach((v, k) => {
        headers[k] = v;
      });
      const body =
        init.body === undefined || init.body === null
          ? undefined
          : typeof init.body === "string"
            ? init.body
            : Buffer.from(init.body as ArrayBuffer);
      const req = https.request(
        u,
        { method: init.method ?? "GET", headers, ca, signal: init.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (v === undefined) continue;
              for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
            }
            const status = res.statusCode ?? 0;
            const nobody = status === 204 || status === 304;
            resolve(new Response(nobody ? null : Buffer.concat(chunks), { status, headers: h }));
          });
        },
      );
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
}
