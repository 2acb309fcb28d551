import type { Hono } from "hono";
import type { Config } from "../config.ts";
import type { Connection } from "../db/connections.ts";
import type { RetryPolicy } from "../memory/sources/google-drive/api.ts";
import type { OneDriveSource } from "../memory/sources/onedrive/source.ts";
import {
  MICROSOFT_LOGIN_URL,
  type MicrosoftOAuthClient,
  type MicrosoftTokens,
  microsoftAuthorizeUrl,
  microsoftExchangeCode,
  microsoftRefresh,
} from "../security/microsoft-oauth.ts";
import { mountOAuthConnect } from "./oauth-routes.ts";
import { ConnectionTokens } from "./tokens.ts";
import { type ConnectionProvider, type ProviderContext, sourceIdOf } from "./types.ts";

const START = "/connect/microsoft";
const CALLBACK = `${START}/callback`;

/** Default root of Microsoft Graph. */
export const MICROSOFT_GRAPH_API_URL = "https://graph.microsoft.com";

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
      mountOAuthConnect(app, ctx, {
        provider: "microsoft",
        vendor: "Microsoft",
        product: "OneDrive",
        word: "onedrive",
        start: START,
        secure,
        authorizeUrl: ({ state, pkce, loginHint }) =>
          microsoftAuthorizeUrl(client(), { state, codeChallenge: pkce.challenge, loginHint }),
        exchange: (code, verifier) => microsoftExchangeCode(client(), code, verifier),
        accountEmail: (accessToken) => accountEmail(apiUrl, accessToken, opts.ca),
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
