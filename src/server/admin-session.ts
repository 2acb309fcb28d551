import type { Context, Hono, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { makeReply, type Reply } from "../bot/reply.ts";
import type { Bot } from "../bot/types.ts";
import type { ChatMessage } from "../core/ports.ts";
import type { Db } from "../db/types.ts";
import { ConnectionStore } from "../db/connections.ts";
import {
  AdminLinks,
  type AdminSession,
  type AdminSessions,
  type SessionScope,
} from "../security/admin-links.ts";
import { hmacHex } from "../security/crypto.ts";

export type { AdminSession } from "../security/admin-links.ts";

/** Path of a person's own page (their AI keys), behind {@link AdminWeb.requirePerson}. */
export const PERSONAL_PATH = "/my-keys";

/** Name of the HttpOnly session cookie of the admin pages. */
export const ADMIN_COOKIE = "atom_admin";

/** Hono variables set by {@link AdminWeb.requireAdmin}: `c.get("admin")`. */
export type AdminEnv = { Variables: { admin: AdminSession } };

/**
 * The admin web session shared by every admin page (settings, dashboard):
 *
 * 1. In chat, a workspace admin (`ChatMessage.userIsAdmin`) asks for a page; {@link AdminWeb.link}
 *    returns `PUBLIC_URL<path>?link=…` — signed, single use, 10 minutes (security/admin-links.ts).
 *    Anyone else gets no link.
 * 2. Opening it: {@link AdminWeb.requireAdmin} uses the link once, sets the HttpOnly,
 *    `SameSite=Lax` cookie `atom_admin` (Secure when PUBLIC_URL is https) holding a signed session
 *    of {@link SESSION_TTL_MS}, and redirects to the same path without the link (303), so the link
 *    is not left in the address bar or history.
 * 3. Every page mounted behind `requireAdmin` then sees `c.get("admin")`: `{tenantId, platform,
 *    userId, userEmail?, csrf, expiresAt}`. No valid session (or a used/expired/forged link) → 403
 *    page. The session is stateless (an HMAC over its fields), so any replica accepts it.
 * 4. Forms carry `csrf` in a hidden field `_csrf` (or header `x-csrf-token`);
 *    {@link AdminWeb.checkCsrf} refuses a POST without the session's token with 403.
 *
 * Usage for a page:
 * ```ts
 * app.use("/admin/*", admin.requireAdmin);
 * app.get("/admin", (c) => c.html(page(c.get("admin"))));
 * app.post("/admin/x", admin.checkCsrf, (c) => …);
 * ```
 */
export class AdminWeb {
  constructor(
    private readonly deps: {
      /** Link and session signer (built lazily: the master key is loaded on first use). */
      sessions: () => AdminSessions;
      /** `PUBLIC_URL`: where links point. */
      publicUrl?: string;
    },
  ) {}

  /**
   * A private link to the admin page at `path` for the asker, or undefined when the asker is not
   * a workspace admin (`userIsAdmin !== true`).
   */
  async link(msg: ChatMessage, path = "/settings"): Promise<string | undefined> {
    if (msg.userIsAdmin !== true) return undefined;
    return this.issue(msg, path, "admin");
  }

  /**
   * A private link to the asker's own page ({@link PERSONAL_PATH}: their own AI keys) — for anyone
   * (signed, single use, 10 minutes; the session it starts reaches no admin page).
   */
  async personalLink(msg: ChatMessage): Promise<string> {
    return this.issue(msg, PERSONAL_PATH, "self");
  }

  private async issue(msg: ChatMessage, path: string, scope: SessionScope): Promise<string> {
    const token = await this.deps.sessions().issueLink({
      tenantId: msg.tenantId,
      platform: msg.platform,
      userId: msg.userId,
      userEmail: msg.userEmail,
      path,
      scope,
    });
    return `${(this.deps.publicUrl ?? "").replace(/\/$/, "")}${path}?link=${encodeURIComponent(token)}`;
  }

  /**
   * Middleware of the workspace admin pages: exchanges a `?link=` for the session cookie (then
   * redirects), or reads the cookie and sets `c.get("admin")`; 403 otherwise — also for a person's
   * own session (`scope: "self"`), which never reaches an admin page or form.
   */
  requireAdmin: MiddlewareHandler<AdminEnv> = (c, next) => this.session(c, next, "admin");

  /**
   * Middleware of a person's own pages (their AI keys): like {@link requireAdmin}, but any session
   * of the workspace is accepted (an admin's too). `c.get("admin")` is the signed-in person.
   */
  requirePerson: MiddlewareHandler<AdminEnv> = (c, next) => this.session(c, next, "self");

  private async session(c: Context<AdminEnv>, next: () => Promise<void>, need: SessionScope) {
    const sessions = this.deps.sessions();
    const link = c.req.query("link");
    if (link !== undefined) {
      const used = await sessions.useLink(link);
      if (!used.ok) return forbidden(c, linkMessage(used.reason));
      if (need === "admin" && used.session.scope !== "admin") return forbidden(c, NOT_ADMIN);
      setCookie(c, ADMIN_COOKIE, sessions.sealSession(used.session), {
        httpOnly: true,
        sameSite: "Lax",
        secure: (this.deps.publicUrl ?? "").startsWith("https:"),
        path: "/",
        maxAge: Math.floor((used.session.expiresAt - Date.now()) / 1000),
      });
      return c.redirect(c.req.path, 303);
    }
    const session = sessions.openSession(getCookie(c, ADMIN_COOKIE));
    if (!session) return forbidden(c, "Open the page from a fresh link: type “settings” to Atom in chat.");
    if (need === "admin" && session.scope !== "admin") return forbidden(c, NOT_ADMIN);
    c.set("admin", session);
    await next();
  }

  /** Middleware for state-changing requests: the body's `_csrf` (or `x-csrf-token`) must match. */
  checkCsrf: MiddlewareHandler<AdminEnv> = async (c, next) => {
    const session = c.get("admin");
    let token = c.req.header("x-csrf-token");
    if (!token) {
      const type = c.req.header("content-type") ?? "";
      if (type.includes("form")) {
        const body = await c.req.parseBody();
        token = typeof body._csrf === "string" ? body._csrf : undefined;
      }
    }
    if (!session || !token || !this.deps.sessions().csrfMatches(session, token)) {
      return forbidden(
        c,
        "This form expired or did not come from Atom's page. Reload the page and try again.",
      );
    }
    await next();
  };

  /** Mounts `POST /settings/logout` style sign-out at `path` (clears the cookie). */
  mountLogout(app: Hono, path = "/admin/logout"): void {
    app.post(path, (c) => {
      deleteCookie(c, ADMIN_COOKIE, { path: "/" });
      return c.html("<!doctype html><title>Signed out</title><p>Signed out.</p>");
    });
  }
}

const NOT_ADMIN = `Only a workspace admin can change Atom's settings. Your own keys are at ${PERSONAL_PATH}.`;

function linkMessage(reason: string): string {
  if (reason === "used") return "This link was already used. Type “settings” to Atom for a new one.";
  if (reason === "expired")
    return "This link expired (links work for 10 minutes). Type “settings” to Atom for a new one.";
  return "This link is not valid. Type “settings” to Atom for a new one.";
}

function forbidden(c: Context, message: string): Response {
  c.header("Cache-Control", "no-store");
  return c.html(
    `<!doctype html><html><head><meta charset="utf-8"><title>Atom — not allowed</title></head><body><h1>Not allowed</h1><p>${escapeHtml(message)}</p></body></html>`,
    403,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * Registers the `settings` chat command (`/atom settings`, a DM, a mention, Teams). A workspace
 * admin gets a private reply with the settings link and a second link to their own keys; anyone
 * else — and anyone asking `my keys` / `settings me` — gets a private link to their own page
 * (their own OpenAI/Anthropic keys; no workspace setting). Links are single use, 10 minutes.
 */
export function registerSettingsCommand(bot: Bot, admin: AdminWeb): void {
  bot.registerCommand({
    kind: "settings",
    match: (t) => {
      if (
        /^(?:open\s+)?(?:atom\s+)?(?:my\s+(?:own\s+)?(?:api\s+)?keys|my\s+settings|settings\s+me|settings\s+mine)[.!?]?$/i.test(
          t,
        )
      )
        return { kind: "settings", query: "me" };
      return /^(?:open\s+)?(?:atom\s+)?(?:settings|admin settings|keys|api keys)[.!?]?$/i.test(t)
        ? { kind: "settings", query: "" }
        : undefined;
    },
    help: [
      "Settings: “settings” — a private link to Atom's settings page (admins: AI keys, models, usage); “my keys” — your own AI keys.",
    ],
    handle: async (ctx): Promise<Reply> => {
      const { msg } = ctx;
      // Teams shows no reply to one person in a shared conversation: a link there would be public.
      if (msg.platform === "teams" && !msg.isDirect && msg.visibility !== "ephemeral") {
        return makeReply({
          intent: "settings",
          text: "Settings links are private: message me in a personal chat and type “settings” (or “my keys”) there.",
        });
      }
      const note = "Links are only for you, work once, for 10 minutes.";
      const own = await admin.personalLink(ctx.msg);
      const url = ctx.intent.query === "me" ? undefined : await admin.link(ctx.msg);
      const lines = url
        ? [`Atom settings: ${url}`, `Your own AI keys: ${own}`]
        : [
            ...(ctx.intent.query === "me"
              ? []
              : ["Only a workspace admin can change Atom's settings; you can set your own AI keys."]),
            `Your own AI keys: ${own}`,
          ];
      return makeReply({
        intent: "settings",
        text: `${lines.join("\n")}\n${note}`,
        blocks: [...lines.map((text) => ({ type: "text" as const, text })), { type: "text", text: note }],
        visibility: "ephemeral",
      });
    },
  });
}

/**
 * Builds the {@link AdminWeb} of a process. The master key (ATOM_ENCRYPTION_KEY or the data dir's
 * key file) is loaded on first use; links are stored in `connect_links` (hashes only).
 */
export function createAdminWeb(deps: { db: Db; masterKey: () => Buffer; publicUrl?: string }): AdminWeb {
  let sessions: AdminSessions | undefined;
  return new AdminWeb({
    publicUrl: deps.publicUrl,
    sessions: () => {
      sessions ??= new AdminLinks(new ConnectionStore(deps.db), hmacHex(deps.masterKey(), "atom:admin-web"));
      return sessions;
    },
  });
}
