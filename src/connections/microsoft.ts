import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import type { Connection } from "../db/connections.ts";
import type { RetryPolicy } from "../memory/sources/google-drive/api.ts";
import type { OneDriveSource } from "../memory/sources/onedrive/source.ts";
import type { LinkRefusal } from "../security/connect-links.ts";
import { createPkce, InvalidGrantError } from "../security/google-oauth.ts";
import {
  MICROSOFT_LOGIN_URL,
  type MicrosoftOAuthClient,
  type MicrosoftTokens,
  microsoftAuthorizeUrl,
  microsoftExchangeCode,
  microsoftRefresh,
} from "../security/microsoft-oauth.ts";
import type { StateRefusal } from "../security/oauth-state.ts";
import { page } from "./google.ts";
import { ConnectionTokens, tokenContext } from "./tokens.ts";
import { type ConnectionProvider, type ProviderContext, sourceIdOf } from "./types.ts";

const COOKIE = "atom_connect_microsoft";
const START = "/connect/microsoft";
const CALLBACK = "/connect/microsoft/callback";

/** Default root of Microsoft Graph. */
export const MICROSOFT_GRAPH_API_URL = "https://graph.microsoft.com";

const again = "Type “connect onedrive” to Atom for a new one.";
const LINK_REFUSALS: Record<LinkRefusal, string> = {
  malformed: `This sign-in link is incomplete. ${again}`,
  bad_signature: `This sign-in link is not valid. ${again}`,
  unknown: `This sign-in link is not valid. ${again}`,
  used: `This sign-in link was already used. ${again}`,
  expired: `This sign-in link expired (links work for 10 minutes). ${again}`,
};
const STATE_REFUSALS: Record<StateRefusal, string> = {
  missing: "The sign-in came back without its security state. Type “connect onedrive” to Atom and try again.",
  unknown:
    "This sign-in was already completed or is not valid. Type “connect onedrive” to Atom and try again.",
  expired: "This sign-in took too long. Type “connect onedrive” to Atom and try again.",
  other_browser: "This sign-in was started in another browser. Open the link from Atom in this browser.",
};

/** Settings of the Microsoft provider. */
export interface MicrosoftProviderOptions {
  config: Config;
  /** Extra CA (PEM) trusted for the authority and Graph (tests; otherwise NODE_EXTRA_CA_CERTS). */
  ca?: string;
  /** Retry policy of Graph calls (tests use short waits). */
  retry?: Partial<RetryPolicy>;
}

/**
 * OneDrive and SharePoint as a connection provider: the Microsoft identity platform's code flow with
 * PKCE through MSAL (security/microsoft-oauth.ts; app MICROSOFT_GRAPH_CLIENT_ID/SECRET, defaulting
 * to the Teams bot's MICROSOFT_APP_ID/PASSWORD; authority MICROSOFT_LOGIN_URL/MICROSOFT_GRAPH_TENANT),
 * and the OneDrive source on MICROSOFT_GRAPH_API_URL (memory/sources/onedrive/).
 */
export function microsoftProvider(opts: MicrosoftProviderOptions): ConnectionProvider {
  const env = opts.config.env;
  const publicUrl = opts.config.publicUrl?.replace(/\/$/, "");
  const clientId = env.MICROSOFT_GRAPH_CLIENT_ID ?? env.MICROSOFT_APP_ID;
  const clientSecret = env.MICROSOFT_GRAPH_CLIENT_SECRET ?? env.MICROSOFT_APP_PASSWORD;
  const client = (): MicrosoftOAuthClient => ({
    clientId: clientId ?? "",
    clientSecret: clientSecret ?? "",
    tenant: env.MICROSOFT_GRAPH_TENANT,
    loginUrl: env.MICROSOFT_LOGIN_URL ?? MICROSOFT_LOGIN_URL,
    redirectUri: `${publicUrl ?? ""}${CALLBACK}`,
    ca: opts.ca,
  });
  const apiUrl = (env.MICROSOFT_GRAPH_API_URL ?? MICROSOFT_GRAPH_API_URL).replace(/\/+$/, "");
  const secure = publicUrl?.startsWith("https://") ?? false;

  return {
    id: "microsoft",
    label: "OneDrive",
    words: ["onedrive", "one drive", "sharepoint", "microsoft onedrive", "office 365"],
    word: "onedrive",
    sourceKind: "onedrive",
    startPath: START,
    missingSettings() {
      const missing = [
        !clientId && "MICROSOFT_GRAPH_CLIENT_ID (or MICROSOFT_APP_ID)",
        !clientSecret && "MICROSOFT_GRAPH_CLIENT_SECRET (or MICROSOFT_APP_PASSWORD)",
        !publicUrl && "PUBLIC_URL",
        !apiUrl.startsWith("https://") && "an https MICROSOFT_GRAPH_API_URL",
      ].filter(Boolean);
      return missing.length > 0 ? missing.join(", ") : undefined;
    },

    mount(app: Hono, ctx: ProviderContext) {
      const log = ctx.logger.child({ component: "connect-microsoft" });
      app.get(START, async (c) => {
        c.header("Cache-Control", "no-store");
        c.header("Referrer-Policy", "no-referrer");
        const link = await ctx.links.use("microsoft", c.req.query("link"));
        if (!link.ok) {
          log.warn({ reason: link.reason }, "microsoft sign-in link refused");
          return c.html(page("Link not valid", LINK_REFUSALS[link.reason]), 400);
        }
        const pkce = createPkce();
        const { state, browserToken } = await ctx.states.issue("microsoft", {
          request: link.request,
          verifier: ctx.sealer.seal(pkce.verifier, "microsoft-pkce"),
        });
        let url: string;
        try {
          url = await microsoftAuthorizeUrl(client(), {
            state,
            codeChallenge: pkce.challenge,
            loginHint: link.request.userEmail,
          });
        } catch (err) {
          log.warn({ reason: (err as Error).message }, "microsoft authority unreachable");
          return c.html(
            page("Not connected", "Microsoft sign-in could not be reached. Try again in a moment."),
            502,
          );
        }
        setCookie(c, COOKIE, browserToken, {
          path: START,
          httpOnly: true,
          sameSite: "Lax",
          secure,
          maxAge: 600,
        });
        return c.redirect(url, 302);
      });

      app.get(CALLBACK, async (c: Context) => {
        c.header("Cache-Control", "no-store");
        c.header("Referrer-Policy", "no-referrer");
        const check = await ctx.states.consume("microsoft", c.req.query("state"), getCookie(c, COOKIE));
        deleteCookie(c, COOKIE, { path: START });
        if (!check.ok) {
          log.warn({ reason: check.reason }, "microsoft sign-in refused: bad state");
          return c.html(page("Sign-in refused", STATE_REFUSALS[check.reason]), 400);
        }
        const error = c.req.query("error");
        if (error) {
          return c.html(
            page("Not connected", `Microsoft answered “${error.slice(0, 80)}”. Nothing was connected.`),
            400,
          );
        }
        const code = c.req.query("code");
        if (!code) return c.html(page("Not connected", "Microsoft did not send an authorization code."), 400);
        const request = check.data.request as Parameters<ProviderContext["completeConnection"]>[0]["request"];
        let verifier: string;
        try {
          verifier = ctx.sealer.open(String(check.data.verifier ?? ""), "microsoft-pkce");
        } catch {
          return c.html(page("Not connected", "The sign-in could not be verified. Try again."), 400);
        }
        let result: Awaited<ReturnType<typeof microsoftExchangeCode>>;
        try {
          result = await microsoftExchangeCode(client(), code, verifier);
        } catch (err) {
          const refused = err instanceof InvalidGrantError;
          log.warn({ reason: (err as Error).message }, "microsoft code exchange failed");
          return c.html(
            page(
              "Not connected",
              refused
                ? "Microsoft refused the sign-in (the code was used or expired). Type “connect onedrive” to Atom and try again."
                : "Microsoft could not be reached to finish the sign-in. Try again in a moment.",
            ),
            refused ? 400 : 502,
          );
        }
        const tokens = result.tokens;
        const email =
          result.email ?? (await accountEmail(apiUrl, tokens.accessToken, opts.ca).catch(() => undefined));
        const connection = await ctx.completeConnection({
          provider: "microsoft",
          request,
          accountEmail: email,
          sealTokens: (id) => ctx.sealer.seal(JSON.stringify(tokens), tokenContext(id)),
        });
        log.info({ connectionId: connection.id, tenantId: connection.tenantId }, "onedrive connected");
        return c.html(
          page(
            "OneDrive connected",
            `Connected OneDrive${email ? ` as ${email}` : ""} — you can close this tab. Atom is reading your documents now and will message you when they are indexed.`,
          ),
        );
      });
    },

    async firstSyncOffer(connection: Connection, ctx: ProviderContext) {
      const [{ sharePointOffer }, { ConnectionSites }] = await Promise.all([
        import("./sharepoint.ts"),
        import("../db/drive-items.ts"),
      ]);
      const source = (await this.createSource(connection, ctx)) as OneDriveSource;
      return sharePointOffer(source, connection.id, new ConnectionSites(ctx.store.db));
    },

    async createSource(connection: Connection, ctx: ProviderContext) {
      const [{ GraphApi, fetchTrusting }, { OneDriveSource }, { DriveItemTree, ConnectionSites }] =
        await Promise.all([
          import("../memory/sources/onedrive/api.ts"),
          import("../memory/sources/onedrive/source.ts"),
          import("../db/drive-items.ts"),
        ]);
      const tokens = new ConnectionTokens(connection.id, ctx.store, ctx.sealer, async (t) =>
        microsoftRefresh(client(), t as MicrosoftTokens),
      );
      const api = new GraphApi({
        apiUrl,
        tokens,
        concurrency: opts.config.env.ATOM_SYNC_CONCURRENCY,
        retry: opts.retry,
        fetch: opts.ca ? fetchTrusting(opts.ca) : undefined,
      });
      const id = sourceIdOf("onedrive", connection.id);
      const account = connection.accountEmail ?? connection.ownerEmail ?? undefined;
      return new OneDriveSource(api, {
        id,
        label: `OneDrive (${account ?? "unknown account"})`,
        maxFileBytes: ctx.maxFileBytes,
        tenantDomain: account?.split("@")[1]?.toLowerCase(),
        tree: new DriveItemTree(ctx.store.db, connection.tenantId, id),
        sites: (await new ConnectionSites(ctx.store.db).list(connection.id)).map((x) => ({
          key: `site:${x.siteId}`,
          name: x.name,
        })),
      });
    },
  };
}

/** The signed-in account's e-mail from Graph `/me` (`mail`, else the UPN), when the ID token had none. */
async function accountEmail(apiUrl: string, accessToken: string, ca?: string): Promise<string | undefined> {
  const { GraphApi, fetchTrusting } = await import("../memory/sources/onedrive/api.ts");
  const api = new GraphApi({
    apiUrl,
    tokens: { get: async () => accessToken, refreshAfter: async () => accessToken },
    retry: { attempts: 2 },
    fetch: ca ? fetchTrusting(ca) : undefined,
  });
  const me = (await api.call("me", (c) => c.api("/me").select("mail,userPrincipalName").get())) as {
    mail?: string;
    userPrincipalName?: string;
  };
  return (me.mail ?? me.userPrincipalName)?.toLowerCase();
}
