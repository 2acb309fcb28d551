import { type drive_v3, drive } from "@googleapis/drive";
import { backoffMs } from "../../../core/worker.ts";
import { SourceUnavailableError } from "../../feed-sync.ts";

/**
 * Access tokens of one connection. Implemented by the connections layer, which refreshes one at a
 * time per connection (across processes) and marks the connection broken on `invalid_grant`.
 */
export interface AccessTokens {
  /** A currently valid access token. */
  get(): Promise<string>;
  /**
   * Called after the API rejected `rejected` with 401: returns a fresh token — refreshing it, or
   * the one another caller refreshed meanwhile.
   * @throws InvalidGrantError when the grant is gone.
   */
  refreshAfter(rejected: string): Promise<string>;
}

/** Atom's own retry policy for Drive (the client library's built-in retry is turned off). */
export interface RetryPolicy {
  /** Attempts per call, first one included (default 6). */
  attempts: number;
  /** Exponential backoff with jitter when the answer has no Retry-After, ms (default 1 s … 32 s). */
  minMs: number;
  maxMs: number;
  /**
   * A wait longer than this (Retry-After of minutes) is not spent inside the sync: the call fails
   * with {@link SourceUnavailableError} carrying the wait, and the sync job is retried then (default 60 s).
   */
  maxWaitMs: number;
  /** Sleeps (tests may record the waits). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, minMs: 1000, maxMs: 32_000, maxWaitMs: 60_000 };

/** A Drive API error as Atom reports it: status, Google's `reason`, and Google's message (no secrets). */
export class DriveApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** `errors[0].location` of Google's error body (e.g. `pageToken`). */
    readonly location?: string,
  ) {
    super(message);
    this.name = "DriveApiError";
  }
}

/** Rate-limit reasons Drive sends with 403 (https://developers.google.com/workspace/drive/api/guides/handle-errors). */
const RATE_REASONS = new Set(["rateLimitExceeded", "userRateLimitExceeded"]);
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "TimeoutError",
  "UND_ERR_SOCKET",
]);

/** What a failed call says, from a GaxiosError or an {@link HttpFailure}. */
interface Failure {
  status: number;
  reason: string;
  message: string;
  location?: string;
  retryAfterMs?: number;
  network: boolean;
}

/** A non-2xx answer of a plain `fetch` (export links), shaped like the client's errors. */
export class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`);
  }
}

/**
 * Parses `Retry-After` (delta-seconds or an HTTP date, RFC 9110 §10.2.3) into ms; undefined when
 * absent or unreadable. Header names are case-insensitive (`retry-after` works too).
 */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string>;
  const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
  return key ? rec[key] : undefined;
}

function describe(err: unknown): Failure {
  const e = err as {
    status?: number;
    code?: string | number;
    message?: string;
    response?: { status?: number; data?: unknown; headers?: unknown };
    body?: unknown;
    headers?: unknown;
  };
  const status = Number(e.response?.status ?? e.status ?? 0);
  const data = (e instanceof HttpFailure ? e.body : e.response?.data) as
    | { error?: { message?: string; errors?: { reason?: string; location?: string }[]; status?: string } }
    | undefined;
  const first = data?.error?.errors?.[0];
  const headers = e instanceof HttpFailure ? e.headers : e.response?.headers;
  return {
    status,
    reason: first?.reason ?? data?.error?.status ?? "",
    message: String(data?.error?.message ?? (status ? `HTTP ${status}` : (e.code ?? "request failed"))).slice(
      0,
      300,
    ),
    location: first?.location,
    retryAfterMs: retryAfterMs(headerOf(headers, "retry-after")),
    network: status === 0 && NETWORK_CODES.has(String(e.code ?? "")),
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

/** Per-call options the wrapper hands to an operation. */
export interface CallOptions {
  headers: Record<string, string>;
  signal?: AbortSignal;
  retry: false;
  timeout: number;
}

/**
 * The Drive v3 client (`@googleapis/drive` 22, `rootUrl` = GOOGLE_DRIVE_API_URL) behind Atom's
 * policy: every call carries a fresh access token; a 401 refreshes it once and repeats the call;
 * 429, 403 `rateLimitExceeded`/`userRateLimitExceeded`, 5xx and network failures are retried,
 * waiting what `Retry-After` says (any case) or backing off exponentially with jitter, up to
 * {@link RetryPolicy.attempts}; anything else becomes a {@link DriveApiError}. Counts calls per
 * method (benchmarks and tests).
 */
export class DriveApi {
  readonly client: drive_v3.Drive;
  readonly calls = new Map<string, number>();
  private readonly policy: RetryPolicy;

  constructor(
    readonly rootUrl: string,
    private readonly tokens: AccessTokens,
    policy: Partial<RetryPolicy> = {},
  ) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
    // The library's own retry repeats a 429 after ~100 ms and ignores Retry-After: off.
    this.client = drive({ version: "v3", rootUrl, retry: false, retryConfig: { retry: 0 } });
  }

  /** Total API calls made (every attempt counts). */
  get totalCalls(): number {
    let n = 0;
    for (const v of this.calls.values()) n += v;
    return n;
  }

  /**
   * Runs one API operation under the policy.
   * @throws DriveApiError (a non-retryable answer), SourceUnavailableError (retries exhausted or a
   *   long Retry-After), InvalidGrantError (the grant is gone).
   */
  async call<T>(
    method: string,
    op: (o: CallOptions) => Promise<T>,
    signal?: AbortSignal,
    attempts = this.policy.attempts,
  ): Promise<T> {
    let token = await this.tokens.get();
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
      try {
        return await op({
          headers: { Authorization: `Bearer ${token}` },
          signal,
          retry: false,
          timeout: 120_000,
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
        const f = describe(err);
        if (f.status === 401 && !refreshed) {
          refreshed = true;
          token = await this.tokens.refreshAfter(token);
          attempt--;
          continue;
        }
        const retryable =
          f.network ||
          f.status === 429 ||
          f.status >= 500 ||
          (f.status === 403 && RATE_REASONS.has(f.reason));
        if (!retryable) throw new DriveApiError(f.status, f.reason, f.message, f.location);
        const wait = f.retryAfterMs ?? backoffMs(attempt, this.policy.minMs, this.policy.maxMs);
        const what = `Google Drive ${method}: ${f.status || "network error"}${f.reason ? ` ${f.reason}` : ""}`;
        const throttled = f.status === 429 || f.status === 403;
        if (attempt >= attempts) {
          throw new SourceUnavailableError(`${what} after ${attempt} attempts`, f.retryAfterMs, throttled);
        }
        if (wait > this.policy.maxWaitMs) {
          throw new SourceUnavailableError(`${what}; retry after ${wait} ms`, wait, throttled);
        }
        await (this.policy.sleep ?? sleep)(wait, signal);
      }
    }
  }

  /**
   * GETs an absolute URL with the access token (Docs `exportLinks`), under the same policy. Only
   * Google hosts over https — or the configured API host — ever receive the token.
   * @throws DriveApiError when the host is not trusted or the answer is an error.
   */
  async fetchUrl(url: string, signal?: AbortSignal): Promise<Buffer> {
    if (!this.trusts(url))
      throw new DriveApiError(0, "untrustedHost", "export link points to an unexpected host");
    return this.call(
      "exportLink",
      async (o) => {
        const res = await fetch(url, { headers: o.headers, signal: o.signal });
        const bytes = Buffer.from(await res.arrayBuffer());
        if (!res.ok) {
          let body: unknown;
          try {
            body = JSON.parse(bytes.toString("utf8"));
          } catch {
            body = undefined;
          }
          throw new HttpFailure(res.status, body, res.headers);
        }
        return bytes;
      },
      signal,
    );
  }

  private trusts(url: string): boolean {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (u.origin === new URL(this.rootUrl).origin) return true;
    return (
      u.protocol === "https:" &&
      /(^|\.)(google\.com|googleapis\.com|googleusercontent\.com)$/.test(u.hostname)
    );
  }
}
