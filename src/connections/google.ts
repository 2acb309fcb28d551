import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import type { Connection } from "../db/connections.ts";
// The Drive client library is large: it is loaded when a connection syncs, not at every start.
import type { RetryPolicy } from "../memory/sources/google-drive/api.ts";
import type { LinkRefusal } from "../security/connect-links.ts";
import {
  authorizeUrl,
  createPkce,
  exchangeCode,
  GOOGLE_AUTHORIZE_URL,
  GOOGLE_TOKEN_URL,
  type GoogleOAuthClient,
  InvalidGrantError,
  refreshTokens,
} from "../security/google-oauth.ts";
import type { StateRefusal } from "../security/oauth-state.ts";
import { ConnectionTokens, type StoredTokens, tokenContext } from "./tokens.ts";
import { type ConnectionProvider, type ProviderContext, sourceIdOf } from "./types.ts";

const COOKIE = "atom_connect_google";
const START = "/connect/google";
const CALLBACK = "/connect/google/callback";

/** Default root URL of the Drive API (the client library's own default). */
export const GOOGLE_DRIVE_API_URL = "https://www.googleapis.com/";

const LINK_REFUSALS: Record<LinkRefusal, string> = {
  malformed: "This sign-in link is incomplete. Type “connect drive” to Atom for a new one.",
  bad_signature: "This sign-in link is not valid. Type “connect drive” to Atom for a new one.",
  unknown: "This sign-in link is not valid. Type “connect drive” to Atom for a new one.",
  used: "This sign-in link was already used. Type “connect drive” to Atom for a new one.",
  expired:
    "This sign-in link expired (links work for 10 minutes). Type “connect drive” to Atom for a new one.",
};
const STATE_REFUSALS: Record<StateRefusal, string> = {
  missing: "The sign-in came back without its security state. Type “connect drive” to Atom and try again.",
  unknown: "This sign-in was already completed or is not valid. Type “connect drive” to Atom and try again.",
  expired: "This sign-in took too long. Type “connect drive” to Atom and try again.",
  other_browser: "This sign-in was started in another browser. Open the link from Atom in this browser.",
};

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
      const log = ctx.logger.child({ component: "connect-google" });
      app.get(START, async (c) => {
        c.header("Cache-Control", "no-store");
        c.header("Referrer-Policy", "no-referrer");
        const link = await ctx.links.use("google", c.req.query("link"));
        if (!link.ok) {
          log.warn({ reason: link.reason }, "google sign-in link refused");
          return c.html(page("Link not valid", LINK_REFUSALS[link.reason]), 400);
        }
        const pkce = createPkce();
        const { state, browserToken } = await ctx.states.issue("google", {
          request: link.request,
          verifier: ctx.sealer.seal(pkce.verifier, "google-pkce"),
        });
        setCookie(c, COOKIE, browserToken, {
          path: START,
          httpOnly: true,
          sameSite: "Lax",
          secure,
          maxAge: 600,
        });
        return c.redirect(
          authorizeUrl(client(), { state, codeChallenge: pkce.challenge, loginHint: link.request.userEmail }),
          302,
        );
      });

      app.get(CALLBACK, async (c: Context) => {
        c.header("Cache-Control", "no-store");
        c.header("Referrer-Policy", "no-referrer");
        const check = await ctx.states.consume("google", c.req.query("state"), getCookie(c, COOKIE));
        deleteCookie(c, COOKIE, { path: START });
        if (!check.ok) {
          log.warn({ reason: check.reason }, "google sign-in refused: bad state");
          return c.html(page("Sign-in refused", STATE_REFUSALS[check.reason]), 400);
        }
        const error = c.req.query("error");
        if (error) {
          return c.html(
            page("Not connected", `Google answered “${error.slice(0, 80)}”. Nothing was connected.`),
            400,
          );
        }
        const code = c.req.query("code");
        if (!code) return c.html(page("Not connected", "Google did not send an authorization code."), 400);
        const request = check.data.request as Parameters<ProviderContext["completeConnection"]>[0]["request"];
        let verifier: string;
        try {
          verifier = ctx.sealer.open(String(check.data.verifier ?? ""), "google-pkce");
        } catch {
          return c.html(page("Not connected", "The sign-in could not be verified. Try again."), 400);
        }
        let result: Awaited<ReturnType<typeof exchangeCode>>;
        try {
          result = await exchangeCode(client(), code, verifier);
        } catch (err) {
          const refused = err instanceof InvalidGrantError;
          log.warn({ reason: (err as Error).message }, "google code exchange failed");
          return c.html(
            page(
              "Not connected",
              refused
                ? "Google refused the sign-in (the code was used or expired). Type “connect drive” to Atom and try again."
                : "Google could not be reached to finish the sign-in. Try again in a moment.",
            ),
            refused ? 400 : 502,
          );
        }
        const tokens: StoredTokens = { ...result.tokens };
        let email = result.email;
        if (!email) email = await accountEmail(apiUrl, tokens.accessToken).catch(() => undefined);
        const connection = await ctx.completeConnection({
          provider: "google",
          request,
          accountEmail: email,
          sealTokens: (id) => ctx.sealer.seal(JSON.stringify(tokens), tokenContext(id)),
        });
        log.info({ connectionId: connection.id, tenantId: connection.tenantId }, "google drive connected");
        return c.html(
          page(
            "Google Drive connected",
            `Connected Google Drive${email ? ` as ${email}` : ""} — you can close this tab. Atom is reading your documents now and will message you when they are indexed.`,
          ),
        );
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

/** A plain HTML page with a title and one paragraph (sign-in results). */
export function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif;max-width:40rem;margin:4rem auto"><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
