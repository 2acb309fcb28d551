/**
 * Honest Teams health for `status` and `/readyz`: whether the bot can get its Bot Framework token
 * (a real token request, its result kept with its time) and how the last reply to Teams went.
 */
import type { ReadinessCheck } from "../../server/app.ts";
import type { BotAuth } from "./auth.ts";
import { describeError } from "./errors.ts";

/** One token request's outcome. */
export interface TokenState {
  ok: boolean;
  /** When the request finished. */
  at: Date;
  /** When the token expires (ok only, when known). */
  expiresOn?: Date;
  /** Why it failed (secret-free). */
  error?: string;
}

/** Settings of {@link TeamsHealth}. */
export interface TeamsHealthOptions {
  /** A successful token check is reused for this long, ms (default 5 minutes). */
  okForMs?: number;
  /** A failed token check is reused for this long, ms (default 30 s). */
  failedForMs?: number;
}

/** The last outcome of posting to the Bot Connector. */
export interface SendState {
  lastOk?: Date;
  lastError?: { at: Date; error: string };
}

/**
 * Tracks Teams health. `token()` requests a token when the last result is older than its reuse
 * window (concurrent callers share one request); `sent()`/`failed()` record connector outcomes.
 */
export class TeamsHealth {
  private last: TokenState | undefined;
  private pending: Promise<TokenState> | undefined;
  readonly sends: SendState = {};

  constructor(
    private readonly auth: BotAuth,
    private readonly opts: TeamsHealthOptions = {},
  ) {}

  /** The last token check, without a new request. */
  lastToken(): TokenState | undefined {
    return this.last;
  }

  /**
   * The token state, from a new token request when the last one is too old.
   * Never throws: a failure is a state with `ok: false`.
   */
  async token(): Promise<TokenState> {
    const last = this.last;
    if (last) {
      const age = Date.now() - last.at.getTime();
      if (age < (last.ok ? (this.opts.okForMs ?? 300_000) : (this.opts.failedForMs ?? 30_000))) return last;
    }
    this.pending ??= this.auth
      .requestToken()
      .then(
        (t): TokenState => ({ ok: true, at: new Date(), expiresOn: t.expiresOn }),
        (err: unknown): TokenState => ({ ok: false, at: new Date(), error: describeError(err) }),
      )
      .then((state) => {
        this.last = state;
        this.pending = undefined;
        return state;
      });
    return this.pending;
  }

  /** Records a successful post to the Bot Connector. */
  sent(): void {
    this.sends.lastOk = new Date();
  }

  /** Records a failed post to the Bot Connector. */
  failed(err: unknown): void {
    this.sends.lastError = { at: new Date(), error: describeError(err) };
  }

  /**
   * The `status` line, e.g. `Teams: bot app 1a2b3c4d… (SingleTenant, tenant …): Bot Framework token
   * acquired at 2026-01-01T12:00:03Z; last reply sent at …`. In local mode no token is requested.
   */
  async statusLine(): Promise<string> {
    const parts = [`Teams: ${this.auth.describe()}`];
    if (this.auth.authenticated) {
      const t = await this.token();
      parts.push(
        t.ok
          ? `Bot Framework token acquired at ${iso(t.at)}`
          : `cannot get a Bot Framework token (checked at ${iso(t.at)}: ${t.error})`,
      );
    }
    if (this.sends.lastOk) parts.push(`last reply sent at ${iso(this.sends.lastOk)}`);
    if (this.sends.lastError && (!this.sends.lastOk || this.sends.lastError.at > this.sends.lastOk))
      parts.push(`last reply failed at ${iso(this.sends.lastError.at)}: ${this.sends.lastError.error}`);
    return parts.join("; ");
  }

  /**
   * The `/readyz` part `teams` (non-critical: a revoked secret is not fixed by a restart) of a bot
   * with an app id. Resolves with `Bot Framework token acquired at …`; throws with the token error.
   */
  readiness(): ReadinessCheck {
    return {
      name: "teams",
      critical: false,
      check: async () => {
        const t = await this.token();
        if (!t.ok) throw new Error(`Bot Framework token request failed at ${iso(t.at)}: ${t.error}`);
        return `Bot Framework token acquired at ${iso(t.at)}`;
      },
    };
  }
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
