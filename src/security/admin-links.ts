import type { ConnectionStore } from "../db/connections.ts";
import { ConnectLinks, type LinkRefusal } from "./connect-links.ts";
import { hmacHex, randomToken, safeEqual } from "./crypto.ts";

/** Lifetime of an admin web session started from a link, ms (one hour). */
export const SESSION_TTL_MS = 60 * 60_000;

/**
 * What a web session may do: `admin` — the workspace's settings (and the person's own keys);
 * `self` — only the person's own keys (a link asked for by anyone, `my keys`).
 */
export type SessionScope = "admin" | "self";

/** A signed-in person on Atom's web pages (a workspace admin, or anyone on their own page). */
export interface AdminSession {
  /** What the session may do; sessions from before scopes existed were admin sessions. */
  scope: SessionScope;
  tenantId: string;
  /** Chat platform the link was asked from (`slack`, `teams`, `console`). */
  platform: string;
  /** Platform user id of the admin. */
  userId: string;
  userEmail?: string;
  /** Token forms must send back (`_csrf`), bound to this session. */
  csrf: string;
  /** End of the session, ms since epoch. */
  expiresAt: number;
}

/** Signs admin links and sessions; see {@link AdminLinks}. */
export interface AdminSessions {
  /** A signed, single-use, 10-minute link token for an admin (store: `connect_links`, hashes only). */
  issueLink(req: {
    tenantId: string;
    platform: string;
    userId: string;
    userEmail?: string;
    path: string;
    /** Default `admin` (only ever issued to admins); `self` for a person's own page. */
    scope?: SessionScope;
  }): Promise<string>;
  /** Uses a link token once and starts a session, or says why not. */
  useLink(token: string): Promise<{ ok: true; session: AdminSession } | { ok: false; reason: LinkRefusal }>;
  /** The cookie value of a session (payload + HMAC). */
  sealSession(s: AdminSession): string;
  /** The session in a cookie value, or undefined when absent, forged or expired. */
  openSession(cookie: string | undefined, now?: number): AdminSession | undefined;
  /** Whether `token` is the CSRF token of `s`. */
  csrfMatches(s: AdminSession, token: string): boolean;
}

/** The connect-link "provider" under which admin links are stored. */
const LINK_KIND = "admin";

/**
 * Admin links and sessions: links reuse {@link ConnectLinks} (random id + expiry + HMAC; only a
 * keyed hash stored; single use), sessions are stateless `base64url(json).hmac` values, and the
 * CSRF token is an HMAC of the session's random id. `secret` is derived from the master key, so
 * every replica signs and checks alike.
 */
export class AdminLinks implements AdminSessions {
  private readonly links: ConnectLinks;

  constructor(
    store: ConnectionStore,
    private readonly secret: string,
    private readonly sessionTtlMs = SESSION_TTL_MS,
  ) {
    this.links = new ConnectLinks(store, hmacHex(secret, "links"));
  }

  async issueLink(req: Parameters<AdminSessions["issueLink"]>[0]): Promise<string> {
    const scope = req.scope ?? "admin";
    return this.links.issue(LINK_KIND, { ...req, scope, userIsAdmin: scope === "admin" });
  }

  async useLink(token: string, now = Date.now()): ReturnType<AdminSessions["useLink"]> {
    const r = await this.links.use(LINK_KIND, token, now);
    if (!r.ok) return r;
    const req = r.request;
    const sid = randomToken(18);
    return {
      ok: true,
      session: {
        scope: req.scope === "self" ? "self" : "admin",
        tenantId: req.tenantId,
        platform: req.platform,
        userId: req.userId,
        ...(req.userEmail ? { userEmail: req.userEmail } : {}),
        csrf: this.csrfOf(sid),
        expiresAt: now + this.sessionTtlMs,
        sid,
      } as AdminSession,
    };
  }

  sealSession(s: AdminSession): string {
    const sid = (s as AdminSession & { sid?: string }).sid ?? randomToken(18);
    const payload = Buffer.from(
      JSON.stringify({
        r: s.scope,
        t: s.tenantId,
        p: s.platform,
        u: s.userId,
        e: s.userEmail,
        x: s.expiresAt,
        s: sid,
      }),
    ).toString("base64url");
    return `${payload}.${this.sign(payload)}`;
  }

  openSession(cookie: string | undefined, now = Date.now()): AdminSession | undefined {
    if (!cookie) return undefined;
    const [payload, sig] = cookie.split(".");
    if (!payload || !sig || !safeEqual(this.sign(payload), sig)) return undefined;
    try {
      const v = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
        r?: SessionScope;
        t: string;
        p: string;
        u: string;
        e?: string;
        x: number;
        s: string;
      };
      if (typeof v.x !== "number" || v.x < now) return undefined;
      return {
        scope: v.r === "self" ? "self" : "admin",
        tenantId: v.t,
        platform: v.p,
        userId: v.u,
        ...(v.e ? { userEmail: v.e } : {}),
        csrf: this.csrfOf(v.s),
        expiresAt: v.x,
      };
    } catch {
      return undefined;
    }
  }

  csrfMatches(s: AdminSession, token: string): boolean {
    return safeEqual(s.csrf, token);
  }

  private sign(payload: string): string {
    return hmacHex(this.secret, `session:${payload}`);
  }

  private csrfOf(sid: string): string {
    return hmacHex(this.secret, `csrf:${sid}`).slice(0, 40);
  }
}
