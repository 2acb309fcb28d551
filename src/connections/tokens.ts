import type { ConnectionStore } from "../db/connections.ts";
import type { AccessTokens } from "../memory/sources/google-drive/api.ts";
import type { Sealer } from "../security/crypto.ts";

/** Tokens as stored (sealed) on a connection: an access token, when it expires, and whatever refreshes it. */
export interface StoredTokens {
  accessToken: string;
  /** ms since epoch. */
  expiresAt: number;
  refreshToken?: string;
  [key: string]: unknown;
}

/** Additional authenticated data of a connection's sealed tokens: a copy on another row does not open. */
export function tokenContext(connectionId: string): string {
  return `connection:${connectionId}`;
}

/** A token counts as expired this long before its stated expiry. */
const EARLY_MS = 60_000;
/** Longest a refresh lease is held (another process takes over after it). */
const LEASE_MS = 30_000;
/** How long a caller waits for another process's refresh before giving up. */
const WAIT_MS = 45_000;

/** Refreshes in flight in this process, per connection: concurrent callers share one. */
const inFlight = new Map<string, Promise<StoredTokens>>();

/**
 * The access tokens of one connection ({@link AccessTokens} for the provider's API client):
 * refreshes before expiry and after a 401, one refresh at a time per connection — concurrent
 * callers in this process share one refresh, and other processes are kept out by a short lease
 * on the connection row (`refreshing_until`); a caller that finds another process refreshing
 * waits for the new token instead of refreshing again.
 */
export class ConnectionTokens implements AccessTokens {
  private current: StoredTokens | undefined;

  constructor(
    private readonly connectionId: string,
    private readonly store: ConnectionStore,
    private readonly sealer: Sealer,
    /**
     * Exchanges the refresh token for new tokens at the provider.
     * @throws InvalidGrantError when the grant is gone (the caller marks the connection broken).
     */
    private readonly refresh: (t: StoredTokens) => Promise<StoredTokens>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    this.current ??= await this.load();
    if (this.current.expiresAt - EARLY_MS <= this.now())
      this.current = await this.refreshOnce(this.current.accessToken);
    return this.current.accessToken;
  }

  async refreshAfter(rejected: string): Promise<string> {
    this.current = await this.refreshOnce(rejected);
    return this.current.accessToken;
  }

  private async load(): Promise<StoredTokens> {
    const row = await this.store.tokens(this.connectionId);
    if (!row) throw new Error("the connection was removed");
    return JSON.parse(this.sealer.open(row.tokensSealed, tokenContext(this.connectionId))) as StoredTokens;
  }

  private refreshOnce(rejected: string): Promise<StoredTokens> {
    let p = inFlight.get(this.connectionId);
    if (!p) {
      p = this.refreshShared(rejected).finally(() => inFlight.delete(this.connectionId));
      inFlight.set(this.connectionId, p);
    }
    return p;
  }

  /** Refreshes unless another process did (or does) it already. */
  private async refreshShared(rejected: string): Promise<StoredTokens> {
    const deadline = this.now() + WAIT_MS;
    for (;;) {
      const stored = await this.load();
      if (stored.accessToken !== rejected && stored.expiresAt - EARLY_MS > this.now()) return stored;
      if ((await this.store.claimRefresh(this.connectionId, LEASE_MS)) !== undefined) {
        try {
          const fresh = await this.refresh(stored);
          await this.store.storeTokens(
            this.connectionId,
            this.sealer.seal(JSON.stringify(fresh), tokenContext(this.connectionId)),
          );
          return fresh;
        } catch (err) {
          await this.store.releaseRefresh(this.connectionId).catch(() => {});
          throw err;
        }
      }
      if (this.now() > deadline)
        throw new Error("timed out waiting for another process to refresh the access token");
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
