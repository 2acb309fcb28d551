import type { Hono } from "hono";
import type { Reply } from "../bot/reply.ts";
import type { Connection, ConnectionStore } from "../db/connections.ts";
import type { Source } from "../memory/sources/types.ts";
import type { Logger } from "../observability/logger.ts";
import type { ConnectLinks, ConnectRequest } from "../security/connect-links.ts";
import type { Sealer } from "../security/crypto.ts";
import type { OAuthStateStore } from "../security/oauth-state.ts";

/**
 * A kind of connection people make from chat (Google Drive today, OneDrive next). The connections
 * framework owns the chat commands, the sign-in links, the `connections` table, the sync jobs,
 * reports and status; a provider only says how to sign in and how to build its {@link Source}.
 *
 * Contract:
 * - `mount` adds `GET /connect/<path>?link=…` (checks the link with {@link ProviderContext.links},
 *   starts the provider's OAuth with PKCE and a browser-bound state) and the callback, which calls
 *   {@link ProviderContext.completeConnection} with the sealed-tokens builder and account e-mail;
 * - `createSource` opens the connection's tokens (`tokensSealed`, sealed with the AAD
 *   `tokenContext(connection.id)`) and returns a change-feed source whose id is `sourceIdOf(connection)`;
 *   it must throw `InvalidGrantError` (security/google-oauth.ts) when the grant is gone, and
 *   `SourceUnavailableError` (memory/feed-sync.ts) for throttling or outages.
 */
export interface ConnectionProvider {
  /** Stored in `connections.provider`: `google`, `microsoft`. */
  readonly id: string;
  /** Shown to people: "Google Drive". */
  readonly label: string;
  /** Words people type after connect/disconnect: ["drive", "google drive", "gdrive"]. */
  readonly words: string[];
  /** The word used in examples: "drive". */
  readonly word: string;
  /** Kind of the sources it creates (`gdrive`), for `in:` filters and status. */
  readonly sourceKind: string;
  /** Undefined when ready; otherwise what an admin must set. */
  missingSettings(): string | undefined;
  /** URL path of the sign-in start, e.g. `/connect/google`. */
  readonly startPath: string;
  /** Mounts the sign-in routes. */
  mount(app: Hono, ctx: ProviderContext): void;
  /** The change-feed source of one connection (async: provider SDKs are loaded on first use). */
  createSource(connection: Connection, ctx: ProviderContext): Promise<Source>;
  /**
   * Optional: what to add to the "connected: N documents indexed" message (e.g. SharePoint sites
   * to choose with buttons). Failures are the provider's to swallow (return undefined).
   */
  firstSyncOffer?(
    connection: Connection,
    ctx: ProviderContext,
  ): Promise<Pick<Reply, "text" | "actions"> | undefined>;
}

/** What the framework hands a provider. */
export interface ProviderContext {
  store: ConnectionStore;
  sealer: Sealer;
  links: ConnectLinks;
  states: OAuthStateStore;
  logger: Logger;
  publicUrl?: string;
  /** Largest file fetched, bytes. */
  maxFileBytes: number;
  /**
   * Stores a new or renewed connection for the person behind a sign-in link and starts its first
   * sync. `sealTokens` receives the connection id (the AAD of the sealed tokens).
   */
  completeConnection(input: {
    provider: string;
    request: ConnectRequest;
    accountEmail?: string;
    sealTokens: (connectionId: string) => string;
  }): Promise<Connection>;
}

/** Source id of a connection: `<kind>:<connection id>`. */
export function sourceIdOf(kind: string, connectionId: string): string {
  return `${kind}:${connectionId}`;
}

/** Payload of a job of the `sync` queue. */
export interface SyncJobPayload {
  /** The connection to sync. */
  connectionId: string;
  reason: "connect" | "manual" | "periodic" | "cli";
}

/** The queue syncs run in. */
export const SYNC_QUEUE = "sync";
