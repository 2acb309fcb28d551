/**
 * Bot Framework authentication of the Teams bot, both ways:
 * - inbound: every activity carries a JWT from the Bot Framework channel, validated by botbuilder's
 *   `ConfigurationBotFrameworkAuthentication` against the channel's OpenID metadata (signing keys,
 *   issuer, audience = app id, `serviceurl` claim = the activity's serviceUrl);
 * - outbound: replies carry a token Atom gets from the Microsoft identity platform with the client
 *   credentials grant (`POST {login}/{tenant}/oauth2/v2.0/token`, scope
 *   `https://api.botframework.com/.default`) through MSAL and botframework-connector's
 *   `MsalServiceClientCredentialsFactory`; the tenant is `MICROSOFT_APP_TENANT_ID` for SingleTenant
 *   and `botframework.com` for MultiTenant. UserAssignedMSI uses the managed identity instead.
 * References: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
 * and https://learn.microsoft.com/azure/bot-service/bot-builder-authentication (app types).
 */
import { createRequire } from "node:module";
import { ConfigurationBotFrameworkAuthentication } from "botbuilder";
import {
  AuthenticationConstants,
  JwtTokenProviderFactory,
  ManagedIdentityServiceClientCredentialsFactory,
  MsalServiceClientCredentialsFactory,
  type ServiceClientCredentialsFactory,
} from "botframework-connector";
import type { Config } from "../../config.ts";

/**
 * Where the Bot Framework and the Microsoft identity platform are, for clouds other than the public
 * one and for loopback tests. Every field defaults to the public cloud.
 */
export interface BotFrameworkEndpoints {
  /** OpenID metadata of the channel's token issuer (inbound JWT signing keys). */
  openIdMetadataUrl?: string;
  /** `iss` of inbound channel tokens (default `https://api.botframework.com`). */
  tokenIssuer?: string;
  /** Base URL of the identity platform (default `https://login.microsoftonline.com`). */
  loginUrl?: string;
  /** Extra trusted CA certificates (PEM) for the identity platform's TLS (private clouds, tests). */
  loginCa?: string;
}

/** The authentication side of the Teams bot. */
export interface BotAuth {
  /** `MICROSOFT_APP_ID`, or "" in local mode. */
  appId: string;
  /** Whether inbound activities must carry a valid JWT (an app id is configured). */
  authenticated: boolean;
  /** botbuilder's authentication (inbound validation, connector clients with outbound tokens). */
  framework: ConfigurationBotFrameworkAuthentication;
  /**
   * Requests a fresh outbound token (a real request to the identity platform, bypassing caches).
   * @returns when the token expires, if known.
   * @throws the identity platform's error (bad secret, unknown tenant, unreachable).
   */
  requestToken(): Promise<{ expiresOn?: Date }>;
  /** Human-readable description, e.g. `bot app 1a2b3c4d… (SingleTenant)`. */
  describe(): string;
}

const PUBLIC_LOGIN = "https://login.microsoftonline.com";

/**
 * MSAL as botframework-connector loads it (CommonJS): one copy of the library in the process, and
 * the client type the credentials factory expects.
 */
const { ConfidentialClientApplication } = createRequire(import.meta.url)(
  "@azure/msal-node",
) as typeof import("@azure/msal-node", { with: { "resolution-mode": "require" }});

/**
 * Builds the bot's authentication from config.
 * @throws Error when MICROSOFT_APP_PASSWORD is missing for a password-based app type.
 */
export function createBotAuth(config: Config, endpoints: BotFrameworkEndpoints = {}): BotAuth {
  const env = config.env;
  const appId = env.MICROSOFT_APP_ID ?? "";
  const authenticated = appId.length > 0;
  const appType = env.MICROSOFT_APP_TYPE;
  if (authenticated && appType !== "UserAssignedMSI" && !env.MICROSOFT_APP_PASSWORD) {
    throw new Error(`MICROSOFT_APP_PASSWORD is required when MICROSOFT_APP_TYPE is ${appType}`);
  }
  const loginBase = (endpoints.loginUrl ?? PUBLIC_LOGIN).replace(/\/+$/, "");
  const loginTenant =
    appType === "MultiTenant"
      ? AuthenticationConstants.DefaultChannelAuthTenant
      : (env.MICROSOFT_APP_TENANT_ID ?? AuthenticationConstants.DefaultChannelAuthTenant);
  const authority = `${loginBase}/${loginTenant}`;
  let credentials: ServiceClientCredentialsFactory | undefined;
  if (authenticated && appType === "UserAssignedMSI") {
    credentials = new ManagedIdentityServiceClientCredentialsFactory(appId, new JwtTokenProviderFactory());
  } else if (authenticated) {
    const custom = endpoints.loginUrl !== undefined;
    const client = new ConfidentialClientApplication({
      auth: {
        clientId: appId,
        clientSecret: env.MICROSOFT_APP_PASSWORD ?? "",
        authority,
        // A login host MSAL does not know would otherwise be looked up at login.microsoftonline.com.
        ...(custom ? { knownAuthorities: [new URL(loginBase).host] } : {}),
      },
      system: endpoints.loginCa ? { customAgentOptions: { ca: endpoints.loginCa } } : {},
    });
    credentials = new MsalServiceClientCredentialsFactory(appId, client);
  }
  const overrides = endpoints.openIdMetadataUrl !== undefined || endpoints.loginUrl !== undefined;
  const framework = new ConfigurationBotFrameworkAuthentication(
    {
      MicrosoftAppId: appId,
      MicrosoftAppPassword: env.MICROSOFT_APP_PASSWORD ?? "",
      MicrosoftAppType: authenticated ? appType : "MultiTenant",
      MicrosoftAppTenantId: env.MICROSOFT_APP_TENANT_ID ?? "",
      ...(overrides
        ? {
            // Setting any endpoint makes botbuilder expect all of them: the public cloud's, except the overrides.
            ToBotFromChannelOpenIdMetadataUrl:
              endpoints.openIdMetadataUrl ?? AuthenticationConstants.ToBotFromChannelOpenIdMetadataUrl,
            ToBotFromChannelTokenIssuer:
              endpoints.tokenIssuer ?? AuthenticationConstants.ToBotFromChannelTokenIssuer,
            ToChannelFromBotLoginUrl: authority,
            ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
            OAuthUrl: AuthenticationConstants.OAuthUrl,
            ToBotFromEmulatorOpenIdMetadataUrl: AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
            CallerId: "urn:botframework:azure",
            ValidateAuthority: true,
          }
        : {}),
    },
    credentials,
  );
  return {
    appId,
    authenticated,
    framework,
    async requestToken() {
      if (!credentials) throw new Error("no app id: local mode needs no Bot Framework token");
      const creds = await credentials.createCredentials(
        appId,
        AuthenticationConstants.ToChannelFromBotOAuthScope,
        authority,
        true,
      );
      const getToken = (creds as { getToken?: (force?: boolean) => Promise<string> }).getToken;
      if (typeof getToken !== "function") throw new Error("these credentials cannot request a token");
      const token = await getToken.call(creds, true);
      if (!token) throw new Error("the identity platform returned no access token");
      return { expiresOn: jwtExpiry(token) };
    },
    describe() {
      return authenticated
        ? `bot app ${appId.slice(0, 8)}… (${appType}${appType === "MultiTenant" ? "" : `, tenant ${loginTenant}`})`
        : "local mode without MICROSOFT_APP_ID (unauthenticated, loopback only)";
    },
  };
}

/** The `exp` claim of a JWT access token as a date, when the token is a readable JWT. */
function jwtExpiry(token: string): Date | undefined {
  const part = token.split(".")[1];
  if (!part) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? new Date(exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}
