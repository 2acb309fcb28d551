import { webApi } from "@slack/bolt";
import pRetry from "p-retry";
import { type Logger, scrubSecrets } from "../../observability/logger.ts";

/** Web API errors that mean the token no longer works (the workspace must reinstall or fix it). */
export const AUTH_ERRORS = new Set([
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "not_authed",
  "team_access_not_granted",
]);

/** Identity of the bot behind a token (from `auth.test` or the installation). */
export interface BotIdentity {
  teamId?: string;
  enterpriseId?: string;
  botUserId?: string;
  botId?: string;
}

/** The last `auth.test` of a token: whether it passed, when, and why not. */
export interface AuthCheck {
  ok: boolean;
  /** When Slack answered (or the call failed). */
  at: Date;
  /** Slack's error code, the HTTP status or the network error (never the token). */
  error?: string;
  /** The token was refused for good (`invalid_auth`, `token_revoked`, …): no more retries. */
  rejected?: boolean;
  /** Failed attempts in a row before this result. */
  failures: number;
}

/** Slack's error code of a Web API failure (`data.error`), if any. */
export function errorCode(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === "string" ? data.error : undefined;
}

/**
 * A short, token-free reason for a failed Web API call: Slack's error code, the HTTP status, or
 * the network error (e.g. `fetch failed: ECONNREFUSED`, `timeout of 5000ms exceeded`).
 */
export function describeApiError(err: unknown): string {
  const code = errorCode(err);
  if (code) return code;
  const e = err as { statusCode?: unknown; original?: unknown; message?: unknown } | undefined;
  if (typeof e?.statusCode === "number") return `HTTP ${e.statusCode}`;
  const original = e?.original as
    | { message?: unknown; code?: unknown; cause?: { code?: unknown } }
    | undefined;
  const base = typeof original?.message === "string" ? original.message : String(e?.message ?? err);
  const netCode = original?.cause?.code ?? original?.code;
  return scrubSecrets(typeof netCode === "string" && !base.includes(netCode) ? `${base}: ${netCode}` : base);
}

/** Settings of {@link SingleWorkspaceIdentity}. */
export interface IdentityOptions {
  /** Timeout of one `auth.test` attempt, ms (default 5,000). */
  timeoutMs?: number;
  /** Backoff between failed attempts: doubles from `minMs` up to `maxMs` (default 0.5 s … 60 s). */
  retry?: { minMs: number; maxMs: number };
}

/**
 * The single-workspace token (`SLACK_BOT_TOKEN`): its bot identity comes from `auth.test`, asked
 * in the background at start (never before an ack) and retried with backoff (p-retry) until Slack
 * answers or refuses the token. Every result is kept with its time for `status` and `/readyz`.
 */
export class SingleWorkspaceIdentity {
  private identity: BotIdentity | undefined;
  private last: AuthCheck | undefined;
  private failures = 0;
  private readonly abort = new AbortController();
  private readonly waiters = new Set<() => void>();
  private readonly client: webApi.WebClient;
  private warned = false;
  private settled = false;

  constructor(
    token: string,
    private readonly apiUrl: string,
    clientOptions: webApi.WebClientOptions,
    private readonly log: Logger,
    private readonly opts: IdentityOptions = {},
  ) {
    // One attempt per call (no WebClient retries): p-retry retries with backoff and one warning.
    this.client = new webApi.WebClient(token, {
      ...clientOptions,
      retryConfig: { retries: 0 },
      timeout: opts.timeoutMs ?? 5000,
    });
  }

  /** Starts resolving the identity in the background. */
  start(): void {
    const backoff = this.opts.retry ?? { minMs: 500, maxMs: 60_000 };
    pRetry(() => this.attempt(), {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: backoff.minMs,
      maxTimeout: backoff.maxMs,
      factor: 2,
      signal: this.abort.signal,
      unref: true,
      shouldRetry: ({ error }) => !AUTH_ERRORS.has(errorCode(error) ?? ""),
      onFailedAttempt: ({ error }) => this.failed(error),
    })
      .catch(() => {})
      .finally(() => {
        this.settled = true;
        this.release();
      });
  }

  /** The identity when known (never waits). */
  get known(): BotIdentity | undefined {
    return this.identity;
  }

  /** The last auth.test result, or undefined before Slack first answered or failed. */
  get lastCheck(): AuthCheck | undefined {
    return this.last;
  }

  /**
   * The identity, waiting at most `ms` while auth.test has not answered yet. Undefined when the
   * token was refused, the wait timed out, or the identity is being closed.
   */
  async wait(ms: number): Promise<BotIdentity | undefined> {
    if (this.identity || this.settled) return this.identity;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.log.warn(
          { method: "auth.test", apiUrl: this.apiUrl, waitedMs: ms },
          "slack bot identity still unknown; answering without it",
        );
        done();
      }, ms);
      this.waiters.add(done);
    });
    return this.identity;
  }

  /**
   * A fresh auth.test when the last result is older than `maxAgeMs` (status, readiness); while the
   * background loop is still retrying its last result stands.
   */
  async check(maxAgeMs = 60_000): Promise<AuthCheck | undefined> {
    if (!this.settled || (this.last && Date.now() - this.last.at.getTime() < maxAgeMs)) return this.last;
    try {
      await this.attempt();
    } catch (err) {
      this.failed(err as Error);
    }
    return this.last;
  }

  /** Records that the token was refused by a later call (e.g. `chat.postMessage`). */
  noteRejected(code: string): void {
    this.last = { ok: false, at: new Date(), error: code, rejected: true, failures: this.failures };
  }

  /** Stops retrying and releases waiters. */
  close(): void {
    this.abort.abort();
    this.settled = true;
    this.release();
  }

  private async attempt(): Promise<void> {
    const r = await this.client.auth.test();
    this.identity = {
      teamId: r.team_id,
      enterpriseId: r.enterprise_id,
      botUserId: r.user_id,
      botId: r.bot_id,
    };
    this.last = { ok: true, at: new Date(), failures: 0 };
    if (this.warned) {
      this.log.info(
        { method: "auth.test", apiUrl: this.apiUrl, attempts: this.failures + 1 },
        `Slack auth.test at ${this.apiUrl} succeeded; bot identity resolved`,
      );
    }
    this.failures = 0;
    this.release();
  }

  private failed(error: Error): void {
    if (this.abort.signal.aborted) return;
    this.failures += 1;
    const code = errorCode(error);
    const reason = describeApiError(error);
    const rejected = Boolean(code && AUTH_ERRORS.has(code));
    this.last = { ok: false, at: new Date(), error: reason, rejected, failures: this.failures };
    const meta = { method: "auth.test", apiUrl: this.apiUrl, reason, failures: this.failures };
    if (rejected) {
      this.log.error(
        meta,
        `Slack auth.test at ${this.apiUrl} rejected SLACK_BOT_TOKEN (${code}); check the token`,
      );
    } else if (!this.warned) {
      this.warned = true;
      this.log.warn(
        meta,
        `Slack auth.test at ${this.apiUrl} failed (${reason}); events are still acknowledged, answers wait for the bot identity; retrying in the background`,
      );
    } else {
      this.log.debug(meta, "slack auth.test retry failed");
    }
  }

  private release(): void {
    for (const w of [...this.waiters]) w();
  }
}
