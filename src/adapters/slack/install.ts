import type { webApi } from "@slack/bolt";
import { type Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Auditor } from "../../core/audit.ts";
import type { Logger } from "../../observability/logger.ts";
import type { OAuthStateStore, StateRefusal } from "../../security/oauth-state.ts";
import { type SlackCredentials, tenantForTeam } from "./credentials.ts";

/** Bot scopes Atom asks for (keep in sync with manifests/slack/manifest.yaml). */
export const SLACK_BOT_SCOPES = [
  "app_mentions:read",
  "channels:history",
  "groups:history",
  "im:history",
  "chat:write",
  "commands",
  "files:read",
  "users:read",
  "users:read.email",
  "reactions:write",
];

/** Slack's consent page (https://docs.slack.dev/authentication/installing-with-oauth). */
export const SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize";

const COOKIE = "atom_slack_oauth";
const PROVIDER = "slack";

/** What the OAuth routes need. */
export interface SlackOAuthDeps {
  clientId: string;
  clientSecret: string;
  states: OAuthStateStore;
  /** Where installations are stored (tokens sealed). */
  installations: Pick<SlackCredentials, "save">;
  /** A WebClient without a token, pointed at the configured Slack API URL. */
  client: webApi.WebClient;
  logger: Logger;
  /** Records the install in the audit log. */
  audit?: Auditor;
  /** Public base URL of Atom (PUBLIC_URL); else the request's own origin is used. */
  publicUrl?: string;
  /** Lifetime of a state in seconds (cookie max-age), default 600. */
  stateTtlSeconds?: number;
  /** Called with the installer's e-mail (`users.info` of `authed_user`) once the installation is stored. */
  onInstalledBy?: (tenantId: string, installerEmail: string) => Promise<unknown>;
}

const REFUSALS: Record<StateRefusal, string> = {
  missing: "The install link is missing its security state. Start again from /slack/install.",
  unknown: "This install link was already used or is not valid. Start again from /slack/install.",
  expired: "This install link expired. Start again from /slack/install.",
  other_browser:
    "This install link was started in another browser. Start again from /slack/install in this browser.",
};

/**
 * The OAuth install routes as a Hono sub-app (mount with `app.route("/slack", …)`):
 * `GET /install` (issues a single-use, expiring `state` bound to this browser by an
 * HttpOnly cookie and redirects to Slack's consent page) and `GET /oauth_redirect` (checks
 * the state and cookie, exchanges the code with `oauth.v2.access`, and stores the installation
 * with sealed tokens as tenant `slack:<team_id>`).
 */
export function slackInstallRoutes(deps: SlackOAuthDeps): Hono {
  const hono = new Hono();
  const ttl = deps.stateTtlSeconds ?? 600;
  const redirectUri = (c: Context) =>
    `${(deps.publicUrl ?? new URL(c.req.url).origin).replace(/\/$/, "")}/slack/oauth_redirect`;
  const secure = (c: Context) => (deps.publicUrl ?? c.req.url).startsWith("https://");

  hono.get("/install", async (c) => {
    const { state, browserToken } = await deps.states.issue(PROVIDER);
    setCookie(c, COOKIE, browserToken, {
      path: "/slack",
      httpOnly: true,
      sameSite: "Lax",
      secure: secure(c),
      maxAge: ttl,
    });
    const url = new URL(SLACK_AUTHORIZE_URL);
    url.searchParams.set("client_id", deps.clientId);
    url.searchParams.set("scope", SLACK_BOT_SCOPES.join(","));
    url.searchParams.set("state", state);
    url.searchParams.set("redirect_uri", redirectUri(c));
    c.header("Cache-Control", "no-store");
    return c.redirect(url.toString(), 302);
  });

  hono.get("/oauth_redirect", async (c) => {
    c.header("Cache-Control", "no-store");
    const slackError = c.req.query("error");
    const check = await deps.states.consume(PROVIDER, c.req.query("state"), getCookie(c, COOKIE));
    deleteCookie(c, COOKIE, { path: "/slack" });
    if (!check.ok) {
      deps.logger.warn({ reason: check.reason }, "slack install refused: bad state");
      return c.html(page("Installation refused", REFUSALS[check.reason]), 400);
    }
    if (slackError) return c.html(page("Installation cancelled", `Slack answered: ${slackError}.`), 400);
    const code = c.req.query("code");
    if (!code) return c.html(page("Installation failed", "Slack did not send an authorization code."), 400);

    let res: webApi.OauthV2AccessResponse;
    try {
      res = await deps.client.oauth.v2.access({
        client_id: deps.clientId,
        client_secret: deps.clientSecret,
        code,
        redirect_uri: redirectUri(c),
      });
    } catch (err) {
      const reason = (err as { data?: { error?: string } }).data?.error ?? "request failed";
      deps.logger.warn({ reason }, "slack install failed: code exchange refused");
      return c.html(page("Installation failed", `Slack refused the installation (${reason}).`), 502);
    }
    const teamId = res.team?.id ?? undefined;
    const enterpriseId = res.enterprise?.id ?? undefined;
    const owner = res.is_enterprise_install ? (enterpriseId ?? teamId) : (teamId ?? enterpriseId);
    if (!res.access_token || !owner) {
      return c.html(page("Installation failed", "Slack's answer had no bot token or workspace id."), 502);
    }
    let botId: string | undefined;
    try {
      const who = await deps.client.auth.test({ token: res.access_token });
      botId = who.bot_id ?? undefined;
    } catch (err) {
      deps.logger.warn({ err }, "auth.test after install failed; continuing without bot id");
    }
    const tenantId = tenantForTeam(owner);
    await deps.installations.save({
      tenantId,
      teamId,
      enterpriseId,
      teamName: res.team?.name ?? res.enterprise?.name ?? undefined,
      appId: res.app_id ?? undefined,
      botUserId: res.bot_user_id ?? undefined,
      botId,
      scopes: res.scope ?? "",
      botToken: res.access_token,
      refreshToken: res.refresh_token ?? undefined,
      tokenExpiresAt: res.expires_in ? new Date(Date.now() + res.expires_in * 1000) : undefined,
      installerUserId: res.authed_user?.id ?? undefined,
    });
    deps.logger.info({ tenantId, team: res.team?.name }, "slack workspace installed");
    const installer = res.authed_user?.id;
    if (installer && deps.onInstalledBy) {
      try {
        const who = await deps.client.users.info({ token: res.access_token, user: installer });
        const email = who.user?.profile?.email;
        if (email) await deps.onInstalledBy(tenantId, email.toLowerCase());
      } catch (err) {
        deps.logger.warn(
          { code: (err as { data?: { error?: string } }).data?.error },
          "installer lookup failed",
        );
      }
    }
    await deps.audit?.({
      tenantId,
      actor: res.authed_user?.id ?? "slack",
      action: "install",
      platform: "slack",
      detail: { team: res.team?.name ?? res.enterprise?.name ?? teamId, scopes: res.scope ?? "" },
    });
    return c.html(
      page(
        "Atom is installed",
        `Atom was added to ${res.team?.name ?? owner}. Mention @Atom in a channel, send it a direct message, or type /atom help.`,
      ),
    );
  });
  return hono;
}

/** The text of `/slack/install` when OAuth installs are off (settings as README section 2b names them). */
export const INSTALL_OFF_TEXT =
  "Slack installs are not configured on this Atom server. To let workspaces install Atom, set " +
  "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (from your Slack app's Basic Information page) together " +
  "with SLACK_SIGNING_SECRET and PUBLIC_URL (ATOM_ENCRYPTION_KEY recommended), then restart Atom. " +
  "See the README, “Many workspaces (OAuth install)”.";

/**
 * `GET /install` and `GET /oauth_redirect` when Slack OAuth is not configured (mount with
 * `app.route("/slack", …)`): a small page naming the settings that turn installs on, status 404.
 */
export function slackInstallOffRoutes(): Hono {
  const hono = new Hono();
  const off = (c: Context) => {
    c.header("Cache-Control", "no-store");
    return c.html(page("Slack installs are not configured", INSTALL_OFF_TEXT), 404);
  };
  hono.get("/install", off);
  hono.get("/oauth_redirect", off);
  return hono;
}

function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif;max-width:40rem;margin:4rem auto"><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
