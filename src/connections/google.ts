import type { Hono } from "hono";
import type { Config } from "../config.ts";
import type { Connection } from "../db/connections.ts";
// The Drive client library is large: it is loaded when a connection syncs, not at every start.
import type { RetryPolicy } from "../memory/sources/google-drive/api.ts";
import {
  authorizeUrl,
  exchangeCode,
  GOOGLE_AUTHORIZE_URL,
  GOOGLE_TOKEN_URL,
  type GoogleOAuthClient,
  refreshTokens,
} from "../security/google-oauth.ts";
import { mountOAuthConnect } from "./oauth-routes.ts";
import { ConnectionTokens } from "./tokens.ts";
import { type ConnectionProvider, type ProviderContext, sourceIdOf } from "./types.ts";

const START = "/connect/google";
const CALLBACK = `${START}/callback`;

/** Default root URL of the Drive API (the client library's own default). */
export const GOOGLE_DRIVE_API_URL = "https://www.googleapis.com/";

/** Settings of the Google Drive provider. */
export interface GoogleProviderOptions {
  config: Config;
  /** Retry policy of Drive calls (tests use short waits). */
  retry?: Partial<RetryPolicy>;
}

/**
 * Google Drive as a connection provider: OAuth 2.0 authorization code with PKCE and offline access
 * against GOOGLE_OAUTH_AUTHORIZE_URL / GOOGLE_OAUTH_TOKEN_URL, and the Drive source on
 * GOOGLE_DRIVE_API_URL (security/google-oauth.ts, memory/sources/google-drive/).
 */
export function googleProvider(opts: GoogleProviderOptions): ConnectionProvider {
  const env = opts.config.env;
  const publicUrl = opts.config.publicUrl?.replace(/\/$/, "");
  const client = (): GoogleOAuthClient => ({
    clientId: env.GOOGLE_CLIENT_ID ?? "",
    clientSecret: env.GOOGLE_CLIENT_SECRET ?? "",
    authorizeUrl: env.GOOGLE_OAUTH_AUTHORIZE_URL ?? GOOGLE_AUTHORIZE_URL,
    tokenUrl: env.GOOGLE_OAUTH_TOKEN_URL ?? GOOGLE_TOKEN_URL,
    redirectUri: `${publicUrl ?? ""}${CALLBACK}`,
  });
  const apiUrl = env.GOOGLE_DRIVE_API_URL ?? GOOGLE_DRIVE_API_URL;
  const secure = publicUrl?.startsWith("https://") ?? false;

  return {
    id: "google",
    label: "Google Drive",
    words: ["drive", "google drive", "gdrive", "google"],
    word: "drive",
    sourceKind: "gdrive",
    startPath: START,
    missingSettings() {
      const missing = [
        !env.GOOGLE_CLIENT_ID && "GOOGLE_CLIENT_ID",
        !env.GOOGLE_CLIENT_SECRET && "GOOGLE_CLIENT_SECRET",
        !publicUrl && "PUBLIC_URL",
      ].filter(Boolean);
      return missing.length > 0 ? missing.join(", ") : undefined;
    },

    mount(app: Hono, ctx: ProviderContext) {
      mountOAuthConnect(app, ctx, {
        provider: "google",
        vendor: "Google",
        product: "Google Drive",
        word: "drive",
        start: START,
        secure,
        authorizeUrl: ({ state, pkce, loginHint }) =>
          authorizeUrl(client(), { state, codeChallenge: pkce.challenge, loginHint }),
        exchange: async (code, verifier) => {
          const r = await exchangeCode(client(), code, verifier);
          return { tokens: { ...r.tokens }, email: r.email };
        },
        accountEmail: (accessToken) => accountEmail(apiUrl, accessToken),
      });
    },

    async createSource(connection: Connection, ctx: ProviderContext) {
      const [{ DriveApi }, { GoogleDriveSource }] = await Promise.all([
        import("../memory/sources/google-drive/api.ts"),
        import("../memory/sources/google-drive/source.ts"),
      ]);
      const tokens = new ConnectionTokens(connection.id, ctx.store, ctx.sealer, async (t) => {
        const fresh = await refreshTokens(client(), {
          accessToken: t.accessToken,
          refreshToken: String(t.refreshToken ?? ""),
          expiresAt: t.expiresAt,
        });
        return { ...fresh };
      });
      const api = new DriveApi(apiUrl, tokens, opts.retry);
      return new GoogleDriveSource(api, {
        id: sourceIdOf("gdrive", connection.id),
        label: `Google Drive (${connection.accountEmail ?? "unknown account"})`,
        maxFileBytes: ctx.maxFileBytes,
      });
    },
  };
}

/** The signed-in account's e-mail from Drive `about.get`, when the ID token carried none. */
async function accountEmail(apiUrl: string, accessToken: string): Promise<string | undefined> {
  const { DriveApi } = await import("../memory/sources/google-drive/api.ts");
  const api = new DriveApi(
    apiUrl,
    { get: async () => accessToken, refreshAfter: async () => accessToken },
    { attempts: 2 },
  );
  const r = await api.call("about.get", (o) => api.client.about.get({ fields: "user(emailAddress)" }, o));
  return r.data.user?.emailAddress?.toLowerCase() ?? undefined;
}
