import crypto from "node:crypto";

/**
 * Google OAuth 2.0 for web server apps, authorization code flow with PKCE (RFC 7636) and offline
 * access (https://developers.google.com/identity/protocols/oauth2/web-server). Endpoints are
 * settings so tests and air-gapped installs can point elsewhere. No secret or token ever appears
 * in an error message of this module.
 */

/** Default authorization endpoint. */
export const GOOGLE_AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth";
/** Default token endpoint. */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
/** What Atom asks for: read-only Drive plus the account's e-mail (OpenID Connect). */
export const GOOGLE_DRIVE_SCOPES = ["openid", "email", "https://www.googleapis.com/auth/drive.readonly"];

/** OAuth client settings. */
export interface GoogleOAuthClient {
  clientId: string;
  clientSecret: string;
  authorizeUrl: string;
  tokenUrl: string;
  /** `PUBLIC_URL/connect/google/callback` — must be registered on the OAuth client. */
  redirectUri: string;
  /** Per-request timeout of the token endpoint, ms (default 30 000). */
  timeoutMs?: number;
}

/** Tokens as Atom keeps them (sealed at rest). `expiresAt` is ms since epoch. */
export interface GoogleTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  scope?: string;
}

/**
 * The token endpoint refused the grant: the refresh token was revoked or expired, or the code was
 * used or is wrong (`invalid_grant`). The connection cannot recover without the person signing in again.
 */
export class InvalidGrantError extends Error {
  constructor(readonly description: string) {
    super(`Google refused the grant (invalid_grant${description ? `: ${description}` : ""})`);
    this.name = "InvalidGrantError";
  }
}

/** Any other failure of the token endpoint; `transient` when another attempt may succeed (5xx, network). */
export class OAuthError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly code?: string,
  ) {
    super(message);
    this.name = "OAuthError";
  }
}

/** A PKCE pair: `verifier` stays on the server; `challenge` = BASE64URL(SHA256(verifier)) goes in the URL. */
export function createPkce(): { verifier: string; challenge: string } {
  // 32 random bytes → 43 characters of the unreserved set (RFC 7636 §4.1).
  const verifier = crypto.randomBytes(32).toString("base64url");
  return { verifier, challenge: pkceChallenge(verifier) };
}

/** The S256 code challenge of a verifier (RFC 7636 §4.2). */
export function pkceChallenge(verifier: string): string {
  return crypto.createHash("sha256").update(verifier).digest("base64url");
}

/**
 * The URL the browser is sent to: code flow, offline access (a refresh token), consent prompt (so a
 * second connect also returns a refresh token), PKCE S256 and the `state` bound to the browser.
 */
export function authorizeUrl(
  client: GoogleOAuthClient,
  p: { state: string; codeChallenge: string; loginHint?: string },
): string {
  const url = new URL(client.authorizeUrl);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", client.clientId);
  url.searchParams.set("redirect_uri", client.redirectUri);
  url.searchParams.set("scope", GOOGLE_DRIVE_SCOPES.join(" "));
  url.searchParams.set("state", p.state);
  url.searchParams.set("code_challenge", p.codeChallenge);
  url.searchParams.set("code_challenge_method", "S256");
  url.searchParams.set("access_type", "offline");
  url.searchParams.set("prompt", "consent");
  url.searchParams.set("include_granted_scopes", "true");
  if (p.loginHint) url.searchParams.set("login_hint", p.loginHint);
  return url.toString();
}

interface TokenResponse {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
  token_type?: string;
  id_token?: string;
  error?: string;
  error_description?: string;
}

async function tokenRequest(client: GoogleOAuthClient, form: Record<string, string>): Promise<TokenResponse> {
  let res: Response;
  try {
    res = await fetch(client.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(client.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new OAuthError(`the Google token endpoint could not be reached (${(err as Error).name})`, true);
  }
  let body: TokenResponse = {};
  try {
    body = (await res.json()) as TokenResponse;
  } catch {
    // Not JSON (a proxy's error page): judged by status below.
  }
  if (res.ok && body.access_token) return body;
  if (body.error === "invalid_grant")
    throw new InvalidGrantError(String(body.error_description ?? "").slice(0, 200));
  const transient = res.status >= 500 || res.status === 429;
  throw new OAuthError(
    `the Google token endpoint answered ${res.status}${body.error ? ` (${body.error})` : ""}`,
    transient,
    body.error,
  );
}

/**
 * Exchanges an authorization code (with its PKCE verifier) for tokens and the account's e-mail
 * (from the ID token Google returns with the `openid email` scopes; its signature need not be
 * checked as it came straight from the token endpoint over TLS — OpenID Connect Core §3.1.3.7).
 * @throws InvalidGrantError for a used, expired or wrong code or verifier; OAuthError otherwise.
 */
export async function exchangeCode(
  client: GoogleOAuthClient,
  code: string,
  codeVerifier: string,
  now = Date.now(),
): Promise<{ tokens: GoogleTokens; email?: string }> {
  const r = await tokenRequest(client, {
    grant_type: "authorization_code",
    code,
    code_verifier: codeVerifier,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uri: client.redirectUri,
  });
  if (!r.refresh_token) {
    throw new OAuthError("Google returned no refresh token (offline access was not granted)", false);
  }
  return {
    tokens: {
      accessToken: r.access_token!,
      refreshToken: r.refresh_token,
      expiresAt: now + Number(r.expires_in ?? 3600) * 1000,
      scope: r.scope,
    },
    email: emailFromIdToken(r.id_token, client.clientId),
  };
}

/**
 * Gets a new access token with a refresh token. Google usually keeps the refresh token; when it
 * returns a new one, that one is kept.
 * @throws InvalidGrantError when the refresh token was revoked or expired; OAuthError otherwise.
 */
export async function refreshTokens(
  client: GoogleOAuthClient,
  tokens: GoogleTokens,
  now = Date.now(),
): Promise<GoogleTokens> {
  const r = await tokenRequest(client, {
    grant_type: "refresh_token",
    refresh_token: tokens.refreshToken,
    client_id: client.clientId,
    client_secret: client.clientSecret,
  });
  return {
    accessToken: r.access_token!,
    refreshToken: r.refresh_token ?? tokens.refreshToken,
    expiresAt: now + Number(r.expires_in ?? 3600) * 1000,
    scope: r.scope ?? tokens.scope,
  };
}

/** The `email` claim of an ID token meant for `clientId`, lower-cased; undefined when absent or not ours. */
export function emailFromIdToken(idToken: string | undefined, clientId: string): string | undefined {
  if (!idToken) return undefined;
  const payload = idToken.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      aud?: string | string[];
      email?: string;
    };
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(clientId)) return undefined;
    return typeof claims.email === "string" ? claims.email.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
