import type { ConnectionStore } from "../db/connections.ts";
import { hmacHex, randomToken, safeEqual } from "./crypto.ts";

/** Lifetime of a sign-in link sent in chat. */
export const CONNECT_LINK_TTL_MS = 10 * 60_000;

/** Who asked for a sign-in link, carried from the chat message to the OAuth callback. */
export interface ConnectRequest {
  tenantId: string;
  platform: string;
  userId: string;
  userEmail?: string;
  /** Whether the asker administers the workspace (their e-mail domain may become the org domain). */
  userIsAdmin?: boolean;
  /** What a web session started from the link may do (admin links): `admin` or only `self`. */
  scope?: "admin" | "self";
}

/** Why a link was refused. */
export type LinkRefusal = "malformed" | "bad_signature" | "unknown" | "used" | "expired";

/**
 * Signed, single-use sign-in links (`PUBLIC_URL/connect/<provider>?link=…`). The link carries a
 * random id, its expiry and an HMAC over both (key derived from the master key), so a forged or
 * altered link is refused before the database is asked; the database keeps only a keyed hash of
 * the id, marks it used on first use, and refuses it after {@link CONNECT_LINK_TTL_MS}.
 */
export class ConnectLinks {
  constructor(
    private readonly store: ConnectionStore,
    /** Secret that keys signatures and stored hashes (derived from the master key). */
    private readonly secret: string,
    private readonly ttlMs = CONNECT_LINK_TTL_MS,
  ) {}

  /** Creates a link token for `provider` on behalf of `req`. */
  async issue(provider: string, req: ConnectRequest, now = Date.now()): Promise<string> {
    const id = randomToken(24);
    const exp = Math.floor((now + this.ttlMs) / 1000);
    const sig = this.sign(provider, id, exp);
    await this.store.createLink({
      linkHash: hmacHex(this.secret, `link:${id}`),
      provider,
      tenantId: req.tenantId,
      data: { ...req },
      ttlMs: this.ttlMs,
    });
    return `${id}.${exp}.${sig}`;
  }

  /**
   * Uses a link once.
   * @returns who asked for it, or why it cannot be used.
   */
  async use(
    provider: string,
    token: string | undefined,
    now = Date.now(),
  ): Promise<{ ok: true; request: ConnectRequest } | { ok: false; reason: LinkRefusal }> {
    const parts = (token ?? "").split(".");
    if (parts.length !== 3 || !/^\d+$/.test(parts[1]!)) return { ok: false, reason: "malformed" };
    const [id, expText, sig] = parts as [string, string, string];
    const exp = Number(expText);
    if (!safeEqual(this.sign(provider, id, exp), sig)) return { ok: false, reason: "bad_signature" };
    if (exp * 1000 < now) return { ok: false, reason: "expired" };
    const r = await this.store.useLink(hmacHex(this.secret, `link:${id}`), provider);
    if (!r.ok) return r;
    return { ok: true, request: r.data as unknown as ConnectRequest };
  }

  private sign(provider: string, id: string, exp: number): string {
    return hmacHex(this.secret, `connect:${provider}:${id}:${exp}`).slice(0, 43);
  }
}
