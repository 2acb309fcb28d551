/**
 * Delegated sign-in to Microsoft Graph for OneDrive and SharePoint: the Microsoft identity platform's
 * authorization code flow with PKCE through `@azure/msal-node`
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow). MSAL's token
 * cache of one connection is serialized into the connection's sealed tokens (AES-256-GCM with the
 * connection id as AAD, connections/tokens.ts), so it is encrypted at rest and never shared between
 * connections; renewals go through MSAL's silent flow (the refresh token in that cache). No token
 * or secret ever appears in an error message of this module.
 */
import { InvalidGrantError, OAuthError } from "./google-oauth.ts";

/** Default authority host. */
export const MICROSOFT_LOGIN_URL = "https://login.microsoftonline.com";
/** What Atom asks for (delegated): read files and sites, the profile, and a refresh token. */
export const GRAPH_SCOPES = ["Files.Read.All", "offline_access", "User.Read", "Sites.Read.All"];
/** The resource scopes (MSAL adds `openid profile offline_access` itself). */
const RESOURCE_SCOPES = GRAPH_SCOPES.filter((s) => s !== "offline_access");

/** The Entra app and where its authority is. */
export interface MicrosoftOAuthClient {
  clientId: string;
  clientSecret: string;
  /** `common`, `organizations`, or a tenant id/domain (MICROSOFT_GRAPH_TENANT). */
  tenant: string;
  /** Authority host (MICROSOFT_LOGIN_URL). */
  loginUrl: string;
  /** `PUBLIC_URL/connect/microsoft/callback` — registered on the app as a Web redirect URI. */
  redirectUri: string;
  /** Extra trusted CA (PEM) for the authority's TLS (tests, private clouds). */
  ca?: string;
}

/** Tokens of a Microsoft connection as sealed on the row: MSAL's serialized cache and its account. */
export interface MicrosoftTokens {
  accessToken: string;
  /** ms since epoch. */
  expiresAt: number;
  msalCache: string;
  homeAccountId: string;
  [key: string]: unknown;
}

/** The grant is gone: consent revoked, refresh token expired, or the code was used. */
export class MicrosoftInvalidGrantError extends InvalidGrantError {
  constructor(description: string) {
    super(description);
    this.message = `Microsoft refused the grant (${description || "invalid_grant"})`;
  }
}

type Msal = typeof import("@azure/msal-node");
let msal: Promise<Msal> | undefined;

async function app(client: MicrosoftOAuthClient, cache?: string) {
  // MSAL is loaded when someone connects or a connection syncs, not at every start.
  msal ??= import("@azure/msal-node");
  const { ConfidentialClientApplication } = await msal;
  const loginBase = client.loginUrl.replace(/\/+$/, "");
  const custom = loginBase !== MICROSOFT_LOGIN_URL;
  const cca = new ConfidentialClientApplication({
    auth: {
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      authority: `${loginBase}/${client.tenant}`,
      // A host MSAL does not know would otherwise be checked at login.microsoftonline.com.
      ...(custom ? { knownAuthorities: [new URL(loginBase).host] } : {}),
    },
    system: client.ca ? { customAgentOptions: { ca: client.ca } } : {},
  });
  if (cache) cca.getTokenCache().deserialize(cache);
  return cca;
}

/** Maps an MSAL failure to Atom's errors (no secrets in the message). */
function mapError(err: unknown): Error {
  const e = err as { errorCode?: string; name?: string; subError?: string; errorMessage?: string };
  const code = String(e.errorCode ?? "");
  const firstLine =
    String(e.errorMessage ?? "")
      .split(/\r?\n/)[0]
      ?.slice(0, 200) ?? "";
  if (
    e.name === "InteractionRequiredAuthError" ||
    code === "invalid_grant" ||
    code === "interaction_required" ||
    code === "consent_required" ||
    code === "no_tokens_found"
  ) {
    return new MicrosoftInvalidGrantError(firstLine || code);
  }
  const transient =
    e.name === "ClientAuthError" || /temporarily_unavailable|network|timed?out|5\d\d/i.test(code);
  return new OAuthError(`Microsoft sign-in failed (${code || e.name || "error"})`, transient, code);
}

/** The sign-in URL: code flow, PKCE S256, the browser-bound `state`, the Graph scopes. */
export async function microsoftAuthorizeUrl(
  client: MicrosoftOAuthClient,
  p: { state: string; codeChallenge: string; loginHint?: string },
): Promise<string> {
  try {
    const cca = await app(client);
    return await cca.getAuthCodeUrl({
      scopes: GRAPH_SCOPES,
      redirectUri: client.redirectUri,
      codeChallenge: p.codeChallenge,
      codeChallengeMethod: "S256",
      state: p.state,
      ...(p.loginHint ? { loginHint: p.loginHint } : {}),
    });
  } catch (err) {
    throw mapError(err);
  }
}

/**
 * Redeems the authorization code (with the PKCE verifier).
 * @returns the tokens to seal (MSAL's cache) and the account's e-mail/UPN.
 * @throws MicrosoftInvalidGrantError when the code was used or expired; OAuthError otherwise.
 */
export async function microsoftExchangeCode(
  client: MicrosoftOAuthClient,
  code: string,
  codeVerifier: string,
): Promise<{ tokens: MicrosoftTokens; email?: string }> {
  try {
    const cca = await app(client);
    const r = await cca.acquireTokenByCode({
      code,
      codeVerifier,
      redirectUri: client.redirectUri,
      scopes: GRAPH_SCOPES,
    });
    if (!r.account) throw new OAuthError("Microsoft returned no account", false);
    const claims = (r.idTokenClaims ?? {}) as { email?: string; preferred_username?: string };
    const email = (claims.email ?? claims.preferred_username ?? r.account.username)?.toLowerCase();
    return {
      tokens: {
        accessToken: r.accessToken,
        expiresAt: r.expiresOn?.getTime() ?? Date.now() + 3_600_000,
        msalCache: cca.getTokenCache().serialize(),
        homeAccountId: r.account.homeAccountId,
      },
      email: email?.includes("@") ? email : undefined,
    };
  } catch (err) {
    if (err instanceof OAuthError) throw err;
    throw mapError(err);
  }
}

/**
 * Renews the access token through MSAL's silent flow (the refresh token in the connection's cache).
 * @throws MicrosoftInvalidGrantError when consent was revoked or the refresh token expired.
 */
export async function microsoftRefresh(
  client: MicrosoftOAuthClient,
  stored: MicrosoftTokens,
): Promise<MicrosoftTokens> {
  try {
    const cca = await app(client, stored.msalCache);
    const account = await cca.getTokenCache().getAccountByHomeId(stored.homeAccountId);
    if (!account)
      throw new MicrosoftInvalidGrantError("the signed-in account is no longer in the token cache");
    const r = await cca.acquireTokenSilent({ account, scopes: RESOURCE_SCOPES, forceRefresh: true });
    return {
      accessToken: r.accessToken,
      expiresAt: r.expiresOn?.getTime() ?? Date.now() + 3_600_000,
      msalCache: cca.getTokenCache().serialize(),
      homeAccountId: stored.homeAccountId,
    };
  } catch (err) {
    if (err instanceof InvalidGrantError || err instanceof OAuthError) throw err;
    throw mapError(err);
  }
}
