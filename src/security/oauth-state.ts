import type { Db } from "../db/types.ts";
import { hmacHex, randomToken, safeEqual } from "./crypto.ts";

/** Why a `state` was refused. */
export type StateRefusal = "missing" | "unknown" | "expired" | "other_browser";

/** Result of {@link OAuthStateStore.consume}. */
export type StateCheck = { ok: true; data: Record<string, unknown> } | { ok: false; reason: StateRefusal };

/** Issues and checks OAuth `state` values (RFC 6749 §10.12 CSRF protection). */
export interface OAuthStateStore {
  /**
   * Creates a state for `provider`. `state` goes into the authorize URL; `browserToken` goes into
   * an HttpOnly cookie of the installing browser. Only keyed hashes are stored.
   */
  issue(provider: string, data?: Record<string, unknown>): Promise<{ state: string; browserToken: string }>;
  /**
   * Checks a state coming back on the redirect. A state is accepted once: it is deleted by the
   * first check whatever the outcome, must not be older than the TTL, and must come with the
   * cookie of the browser it was issued to.
   */
  consume(provider: string, state: string | undefined, browserToken: string | undefined): Promise<StateCheck>;
}

/**
 * Postgres-backed state store (table `oauth_states`), shared by all replicas.
 * @param secret keys the stored hashes (e.g. SLACK_STATE_SECRET), so a database reader cannot forge a match.
 * @param ttlMs lifetime of a state, default 10 minutes.
 */
export function createOAuthStateStore(db: Db, opts: { secret: string; ttlMs?: number }): OAuthStateStore {
  const ttlMs = opts.ttlMs ?? 10 * 60_000;
  const hash = (kind: string, v: string) => hmacHex(opts.secret, `${kind}:${v}`);
  return {
    async issue(provider, data = {}) {
      const state = randomToken(24);
      const browserToken = randomToken(24);
      await db.query("DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'");
      await db.query(
        `INSERT INTO oauth_states (state_hash, provider, browser_hash, data, expires_at)
         VALUES ($1, $2, $3, $4::jsonb, now() + ($5::double precision * interval '1 millisecond'))`,
        [hash("state", state), provider, hash("browser", browserToken), JSON.stringify(data), ttlMs],
      );
      return { state, browserToken };
    },
    async consume(provider, state, browserToken) {
      if (!state) return { ok: false, reason: "missing" };
      const r = await db.query<{ browser_hash: string; expired: boolean; data: Record<string, unknown> }>(
        `DELETE FROM oauth_states WHERE state_hash = $1 AND provider = $2
         RETURNING browser_hash, expires_at < now() AS expired, data`,
        [hash("state", state), provider],
      );
      const row = r.rows[0];
      if (!row) return { ok: false, reason: "unknown" };
      if (row.expired) return { ok: false, reason: "expired" };
      if (!browserToken || !safeEqual(hash("browser", browserToken), row.browser_hash)) {
        return { ok: false, reason: "other_browser" };
      }
      return { ok: true, data: row.data ?? {} };
    },
  };
}
