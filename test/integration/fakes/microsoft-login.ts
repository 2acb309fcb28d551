/**
 * A loopback fake of the Microsoft identity platform (login.microsoftonline.com) for the OAuth 2.0
 * client credentials grant and the delegated authorization code flow with PKCE, served over HTTPS with a self-signed certificate (MSAL refuses http
 * authorities). It speaks the wire format MSAL Node uses:
 *
 * - `GET  /{tenant}/v2.0/.well-known/openid-configuration` — authority metadata
 * - `POST /{tenant}/oauth2/v2.0/token` — `grant_type=client_credentials`, `client_id`,
 *   `client_secret`, `scope` (form-encoded) → `{ token_type, expires_in, access_token }`, or the
 *   identity platform's error body (`invalid_client` 401, `invalid_scope` 400, `invalid_request`).
 *
 * - `GET  /{tenant}/oauth2/v2.0/authorize` — the sign-in + consent page: checks `client_id`,
 *   `redirect_uri`, `response_type=code`, `code_challenge_method=S256`, then 302 to the redirect
 *   URI with `code` and `state` (signed in as the user set with {@link FakeMicrosoftLogin.signInAs});
 * - `POST /{tenant}/oauth2/v2.0/token` with `grant_type=authorization_code` (PKCE verifier checked,
 *   redirect URI checked, code single use) or `refresh_token` → `{ token_type, scope, expires_in,
 *   access_token, refresh_token, id_token, client_info }`; a revoked refresh token or used code →
 *   400 `invalid_grant` (AADSTS70000/70008/54005), as MSAL expects it.
 *
 * Access tokens are JWTs (HS256 with a key only this fake knows) with `aud` (the scope's resource),
 * `appid`, `tid` and `exp`, so a fake resource server (the fake Bot Connector) can check them with
 * {@link FakeMicrosoftLogin.verify}.
 * References: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow,
 * https://learn.microsoft.com/entra/identity-platform/reference-error-codes
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { selfSignedCertificate } from "./tls.ts";

/** A registered app (client) that may get tokens. */
export interface FakeClient {
  clientId: string;
  clientSecret: string;
  /** Tenants the app may get tokens in (default: any). */
  tenants?: string[];
}

/** Claims of an access token this fake issued. */
export interface FakeAccessToken {
  aud: string;
  appid: string;
  tid: string;
  exp: number;
  /** Delegated tokens: the signed-in user's object id, UPN and scopes. */
  oid?: string;
  upn?: string;
  scp?: string;
}

/** A person who can sign in (delegated flow). */
export interface FakeUser {
  oid: string;
  /** UPN / e-mail, e.g. `ana@contoso.com`. */
  upn: string;
  name?: string;
  tid?: string;
}

/** One request the fake received. */
export interface LoginRequest {
  method: string;
  path: string;
  /** Form fields of a token request, `client_secret` replaced by `[secret]`. */
  form?: Record<string, string>;
  status: number;
}

/** The running fake. */
export interface FakeMicrosoftLogin {
  /** Base URL (`https://127.0.0.1:<port>`), the `loginUrl` of Atom's Bot Framework endpoints. */
  url: string;
  /** PEM of the self-signed certificate (the `loginCa` to trust). */
  ca: string;
  requests: LoginRequest[];
  /** Token requests that got a token. */
  issued(): LoginRequest[];
  /** Registers an app. */
  addClient(client: FakeClient): void;
  /** The person the consent page signs in (delegated flow). */
  signInAs(user: FakeUser): void;
  /** Revokes every refresh token of a user (consent withdrawn): the next refresh gets invalid_grant. */
  revoke(oid: string): void;
  /** Every delegated access token issued so far is expired (Graph answers 401; a refresh is needed). */
  expireAccessTokens(): void;
  /** Delegated access tokens issued so far (to check none leaks into logs). */
  delegatedTokens(): string[];
  /** Answers the next `times` token requests with `status` and an identity-platform error body. */
  failTokens(status: 400 | 401 | 500 | 503, times?: number): void;
  /** The claims of a token this fake issued and that has not expired, else undefined. */
  verify(token: string): FakeAccessToken | undefined;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 (random port). */
export async function startFakeMicrosoftLogin(
  opts: { expiresInSeconds?: number } = {},
): Promise<FakeMicrosoftLogin> {
  const cert = selfSignedCertificate();
  const key = randomBytes(32);
  const clients = new Map<string, FakeClient>();
  const requests: LoginRequest[] = [];
  let failures: Array<{ status: number; left: number }> = [];
  let user: FakeUser | undefined;
  const codes = new Map<
    string,
    { clientId: string; redirectUri: string; challenge: string; scope: string; user: FakeUser }
  >();
  const refreshTokens = new Map<string, { clientId: string; scope: string; user: FakeUser }>();
  const revoked = new Set<string>();
  const delegated: string[] = [];
  const expiredTokens = new Set<string>();
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const sign = (data: string) => createHmac("sha256", key).update(data).digest("base64url");

  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const entry: LoginRequest = { method: req.method ?? "GET", path, status: 0 };
      requests.push(entry);
      const send = (status: number, body: unknown) => {
        entry.status = status;
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify(body));
      };
      const error = (status: number, code: string, description: string) =>
        send(status, {
          error: code,
          error_description: `${description}\r\nTrace ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
          error_codes: [code === "invalid_client" ? 7000215 : 900144],
          timestamp: new Date().toISOString(),
          trace_id: randomUUID(),
          correlation_id: randomUUID(),
        });
      const seg = path.split("/").filter(Boolean);
      const tenant = seg[0] ?? "";
      if (req.method === "GET" && seg.slice(1).join("/") === "v2.0/.well-known/openid-configuration") {
        const base = `${url}/${tenant}`;
        return send(200, {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
          ],
          jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`,
          response_modes_supported: ["query", "fragment", "form_post"],
          subject_types_supported: ["pairwise"],
          id_token_signing_alg_values_supported: ["RS256"],
          response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
          scopes_supported: ["openid", "profile", "email", "offline_access"],
          issuer: `${url}/${tenant}/v2.0`,
          request_uri_parameter_supported: false,
          userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          http_logout_supported: true,
          frontchannel_logout_supported: true,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          claims_supported: ["sub", "iss", "aud", "exp", "iat", "tid"],
          kerberos_endpoint: `${base}/kerberos`,
          tenant_region_scope: "EU",
          cloud_instance_name: "microsoftonline.com",
          cloud_graph_host_name: "graph.windows.net",
          msgraph_host: "graph.microsoft.com",
          rbac_url: "https://pas.windows.net",
        });
      }
      if (req.method === "GET" && seg.slice(1).join("/") === "oauth2/v2.0/authorize") {
        const q = new URL(req.url ?? "/", "https://x").searchParams;
        const redirectUri = q.get("redirect_uri") ?? "";
        if (!clients.has(q.get("client_id") ?? ""))
          return error(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.");
        if (q.get("response_type") !== "code" || !redirectUri)
          return error(
            400,
            "invalid_request",
            "AADSTS900144: The request body must contain response_type and redirect_uri.",
          );
        if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge"))
          return error(400, "invalid_request", "AADSTS501491: Invalid code_challenge: S256 required.");
        if (!user) return error(400, "invalid_request", "no user signs in (test setup)");
        const code = randomBytes(24).toString("base64url");
        codes.set(code, {
          clientId: q.get("client_id")!,
          redirectUri,
          challenge: q.get("code_challenge")!,
          scope: q.get("scope") ?? "",
          user,
        });
        const back = new URL(redirectUri);
        back.searchParams.set("code", code);
        if (q.get("state")) back.searchParams.set("state", q.get("state")!);
        back.searchParams.set("session_state", randomUUID());
        entry.status = 302;
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      if (
        req.method === "POST" &&
        seg.slice(1).join("/") === "oauth2/v2.0/token" &&
        /grant_type=(authorization_code|refresh_token)/.test(Buffer.concat(chunks).toString("utf8"))
      ) {
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        entry.form = {
          ...form,
          ...(form.client_secret ? { client_secret: "[secret]" } : {}),
          ...(form.refresh_token ? { refresh_token: "[token]" } : {}),
          ...(form.code ? { code: "[code]" } : {}),
        };
        const failure = failures.find((f) => f.left > 0);
        if (failure) {
          failure.left -= 1;
          return error(
            failure.status,
            "temporarily_unavailable",
            "AADSTS90033: A transient error has occurred.",
          );
        }
        const client = clients.get(form.client_id ?? "");
        const given = Buffer.from(form.client_secret ?? "");
        const expected = Buffer.from(client?.clientSecret ?? "");
        if (!client || given.length !== expected.length || !timingSafeEqual(given, expected))
          return error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
        let grant: { scope: string; user: FakeUser };
        if (form.grant_type === "authorization_code") {
          const c = codes.get(form.code ?? "");
          codes.delete(form.code ?? "");
          if (!c || c.clientId !== client.clientId)
            return error(
              400,
              "invalid_grant",
              "AADSTS54005: OAuth2 Authorization code was already redeemed.",
            );
          if (c.redirectUri !== form.redirect_uri)
            return error(400, "invalid_grant", "AADSTS50148: The redirect_uri does not match.");
          const challenge = createHash("sha256")
            .update(form.code_verifier ?? "")
            .digest("base64url");
          if (challenge !== c.challenge)
            return error(
              400,
              "invalid_grant",
              "AADSTS501481: The Code_Verifier does not match the code_challenge.",
            );
          grant = c;
        } else {
          const r = refreshTokens.get(form.refresh_token ?? "");
          if (!r || r.clientId !== client.clientId || revoked.has(r.user.oid))
            return error(
              400,
              "invalid_grant",
              "AADSTS70000: The provided grant has expired due to it being revoked, a fresh auth token is needed.",
            );
          grant = r;
        }
        const tid =
          grant.user.tid ??
          (tenant === "common" || tenant === "organizations"
            ? "9188040d-6c67-4c5b-b112-36a304b66dad"
            : tenant);
        const expiresIn = opts.expiresInSeconds ?? 3599;
        const now = Math.floor(Date.now() / 1000);
        const scopes = (form.scope ?? grant.scope)
          .split(" ")
          .filter((x) => x && !["openid", "profile", "offline_access", "email"].includes(x));
        const head = b64({ alg: "HS256", typ: "JWT" });
        const claims: FakeAccessToken = {
          aud: "https://graph.microsoft.com",
          appid: client.clientId,
          tid,
          exp: now + expiresIn,
          oid: grant.user.oid,
          upn: grant.user.upn,
          scp: scopes.join(" "),
        };
        const body = b64(claims);
        const accessToken = `${head}.${body}.${sign(`${head}.${body}`)}`;
        delegated.push(accessToken);
        const refreshToken = `rt.${randomBytes(24).toString("base64url")}`;
        refreshTokens.set(refreshToken, { clientId: client.clientId, scope: grant.scope, user: grant.user });
        const idHead = b64({ alg: "RS256", typ: "JWT", kid: "fake" });
        const idToken = `${idHead}.${b64({
          aud: client.clientId,
          iss: `${url}/${tid}/v2.0`,
          iat: now,
          nbf: now,
          exp: now + 3600,
          name: grant.user.name ?? grant.user.upn,
          oid: grant.user.oid,
          preferred_username: grant.user.upn,
          sub: createHash("sha256").update(grant.user.oid).digest("base64url").slice(0, 43),
          tid,
          ver: "2.0",
        })}.${randomBytes(32).toString("base64url")}`;
        return send(200, {
          token_type: "Bearer",
          scope: scopes.join(" "),
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: accessToken,
          refresh_token: refreshToken,
          id_token: idToken,
          client_info: b64({ uid: grant.user.oid, utid: tid }),
        });
      }
      if (req.method === "POST" && seg.slice(1).join("/") === "oauth2/v2.0/token") {
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        entry.form = { ...form, ...(form.client_secret ? { client_secret: "[secret]" } : {}) };
        const failure = failures.find((f) => f.left > 0);
        if (failure) {
          failure.left -= 1;
          return failure.status === 401
            ? error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
            : error(
                failure.status,
                "temporarily_unavailable",
                "AADSTS90033: A transient error has occurred.",
              );
        }
        if (form.grant_type !== "client_credentials")
          return error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
          );
        const client = clients.get(form.client_id ?? "");
        const given = Buffer.from(form.client_secret ?? "");
        const expected = Buffer.from(client?.clientSecret ?? "");
        if (!client || given.length !== expected.length || !timingSafeEqual(given, expected))
          return error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.");
        if (client.tenants && !client.tenants.includes(tenant))
          return error(
            400,
            "invalid_request",
            `AADSTS700016: Application not found in the directory '${tenant}'.`,
          );
        const scope = form.scope ?? "";
        if (!scope.endsWith("/.default"))
          return error(400, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.");
        const expiresIn = opts.expiresInSeconds ?? 3599;
        const claims: FakeAccessToken = {
          aud: scope.slice(0, -"/.default".length),
          appid: client.clientId,
          tid: tenant,
          exp: Math.floor(Date.now() / 1000) + expiresIn,
        };
        const head = b64({ alg: "HS256", typ: "JWT" });
        const body = b64(claims);
        return send(200, {
          token_type: "Bearer",
          expires_in: expiresIn,
          ext_expires_in: expiresIn,
          access_token: `${head}.${body}.${sign(`${head}.${body}`)}`,
        });
      }
      return error(404, "invalid_request", "AADSTS90002: Tenant or endpoint not found.");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    ca: cert.cert,
    requests,
    issued: () => requests.filter((r) => r.form && r.status === 200),
    addClient(client) {
      clients.set(client.clientId, client);
    },
    signInAs(u) {
      user = u;
    },
    revoke(oid) {
      revoked.add(oid);
    },
    delegatedTokens: () => [...delegated, ...refreshTokens.keys()],
    expireAccessTokens() {
      for (const t of delegated) expiredTokens.add(t);
    },
    failTokens(status, times = 1) {
      failures.push({ status, left: times });
    },
    verify(token) {
      const [head, body, sig] = token.split(".");
      if (!head || !body || !sig) return undefined;
      const expected = Buffer.from(sign(`${head}.${body}`));
      const given = Buffer.from(sig);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
      const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as FakeAccessToken;
      if (claims.oid && (revoked.has(claims.oid) || expiredTokens.has(token))) return undefined;
      return claims.exp * 1000 > Date.now() ? claims : undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        failures = [];
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
