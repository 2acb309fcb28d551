import type { Context, Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { LinkRefusal } from "../security/connect-links.ts";
import { createPkce, InvalidGrantError } from "../security/google-oauth.ts";
import type { StateRefusal } from "../security/oauth-state.ts";
import { type StoredTokens, tokenContext } from "./tokens.ts";
import type { ProviderContext } from "./types.ts";

/** What differs between the OAuth providers a person connects a store with (Google, Microsoft). */
export interface OAuthConnectSpec {
  /** Provider id (`google`, `microsoft`): link and state namespace, PKCE sealing context, logs. */
  provider: string;
  /** The identity provider's name in messages ("Google", "Microsoft"). */
  vendor: string;
  /** The store's name ("Google Drive", "OneDrive"). */
  product: string;
  /** The word after `connect` in chat ("drive", "onedrive"). */
  word: string;
  /** `GET` path of the sign-in link; the callback is `<start>/callback`. */
  start: string;
  /** Whether PUBLIC_URL is https (the browser cookie is then `Secure`). */
  secure: boolean;
  /**
   * The authorization URL for this sign-in (code flow with PKCE).
   * @throws when the authority cannot be reached (the person sees a 502 page).
   */
  authorizeUrl(p: {
    state: string;
    pkce: { verifier: string; challenge: string };
    loginHint?: string;
  }): Promise<string> | string;
  /**
   * Exchanges the authorization code.
   * @throws InvalidGrantError when the code was used or expired; anything else is "unreachable".
   */
  exchange(code: string, verifier: string): Promise<{ tokens: StoredTokens; email?: string }>;
  /** The account's e-mail from the store's API, when the ID token carried none. */
  accountEmail(accessToken: string): Promise<string | undefined>;
}

/** Additional authenticated data of the sealed PKCE verifier kept in a pending sign-in's state. */
export function pkceSealContext(provider: string): string {
  return `${provider}-pkce`;
}

/**
 * Mounts the two routes of connecting a store from chat (DESIGN.md, Connections): `GET <start>`
 * takes the signed single-use link, binds a fresh OAuth `state` (with the sealed PKCE verifier and
 * the chat request) to this browser with an HttpOnly cookie and redirects to the provider;
 * `GET <start>/callback` checks state and cookie, exchanges the code, stores the tokens sealed
 * with the new connection and shows a plain page. Every refusal is a 4xx page saying how to start
 * again; nothing is stored on any refusal. RFC 6749 §4.1 and RFC 7636 (PKCE).
 */
export function mountOAuthConnect(app: Hono, ctx: ProviderContext, spec: OAuthConnectSpec): void {
  const { provider, vendor, product, word } = spec;
  const log = ctx.logger.child({ component: `connect-${provider}` });
  const cookie = `atom_connect_${provider}`;
  const callback = `${spec.start}/callback`;
  const pkceContext = pkceSealContext(provider);
  const newLink = `Type “connect ${word}” to Atom for a new one.`;
  const tryAgain = `Type “connect ${word}” to Atom and try again.`;
  const linkRefusals: Record<LinkRefusal, string> = {
    malformed: `This sign-in link is incomplete. ${newLink}`,
    bad_signature: `This sign-in link is not valid. ${newLink}`,
    unknown: `This sign-in link is not valid. ${newLink}`,
    used: `This sign-in link was already used. ${newLink}`,
    expired: `This sign-in link expired (links work for 10 minutes). ${newLink}`,
  };
  const stateRefusals: Record<StateRefusal, string> = {
    missing: `The sign-in came back without its security state. ${tryAgain}`,
    unknown: `This sign-in was already completed or is not valid. ${tryAgain}`,
    expired: `This sign-in took too long. ${tryAgain}`,
    other_browser: "This sign-in was started in another browser. Open the link from Atom in this browser.",
  };
  const noStore = (c: Context) => {
    c.header("Cache-Control", "no-store");
    c.header("Referrer-Policy", "no-referrer");
  };

  app.get(spec.start, async (c) => {
    noStore(c);
    const link = await ctx.links.use(provider, c.req.query("link"));
    if (!link.ok) {
      log.warn({ reason: link.reason }, `${provider} sign-in link refused`);
      return c.html(page("Link not valid", linkRefusals[link.reason]), 400);
    }
    const pkce = createPkce();
    const { state, browserToken } = await ctx.states.issue(provider, {
      request: link.request,
      verifier: ctx.sealer.seal(pkce.verifier, pkceContext),
    });
    let url: string;
    try {
      url = await spec.authorizeUrl({ state, pkce, loginHint: link.request.userEmail });
    } catch (err) {
      log.warn({ reason: (err as Error).message }, `${provider} authority unreachable`);
      return c.html(
        page("Not connected", `${vendor} sign-in could not be reached. Try again in a moment.`),
        502,
      );
    }
    setCookie(c, cookie, browserToken, {
      path: spec.start,
      httpOnly: true,
      sameSite: "Lax",
      secure: spec.secure,
      maxAge: 600,
    });
    return c.redirect(url, 302);
  });

  app.get(callback, async (c: Context) => {
    noStore(c);
    const check = await ctx.states.consume(provider, c.req.query("state"), getCookie(c, cookie));
    deleteCookie(c, cookie, { path: spec.start });
    if (!check.ok) {
      log.warn({ reason: check.reason }, `${provider} sign-in refused: bad state`);
      return c.html(page("Sign-in refused", stateRefusals[check.reason]), 400);
    }
    const error = c.req.query("error");
    if (error) {
      return c.html(
        page("Not connected", `${vendor} answered “${error.slice(0, 80)}”. Nothing was connected.`),
        400,
      );
    }
    const code = c.req.query("code");
    if (!code) return c.html(page("Not connected", `${vendor} did not send an authorization code.`), 400);
    const request = check.data.request as Parameters<ProviderContext["completeConnection"]>[0]["request"];
    let verifier: string;
    try {
      verifier = ctx.sealer.open(String(check.data.verifier ?? ""), pkceContext);
    } catch {
      return c.html(page("Not connected", "The sign-in could not be verified. Try again."), 400);
    }
    let result: { tokens: StoredTokens; email?: string };
    try {
      result = await spec.exchange(code, verifier);
    } catch (err) {
      const refused = err instanceof InvalidGrantError;
      log.warn({ reason: (err as Error).message }, `${provider} code exchange failed`);
      return c.html(
        page(
          "Not connected",
          refused
            ? `${vendor} refused the sign-in (the code was used or expired). ${tryAgain}`
            : `${vendor} could not be reached to finish the sign-in. Try again in a moment.`,
        ),
        refused ? 400 : 502,
      );
    }
    const tokens: StoredTokens = { ...result.tokens };
    const email = result.email ?? (await spec.accountEmail(tokens.accessToken).catch(() => undefined));
    const connection = await ctx.completeConnection({
      provider,
      request,
      accountEmail: email,
      sealTokens: (id) => ctx.sealer.seal(JSON.stringify(tokens), tokenContext(id)),
    });
    log.info(
      { connectionId: connection.id, tenantId: connection.tenantId },
      `${product.toLowerCase()} connected`,
    );
    return c.html(
      page(
        `${product} connected`,
        `Connected ${product}${email ? ` as ${email}` : ""} — you can close this tab. Atom is reading your documents now and will message you when they are indexed.`,
      ),
    );
  });
}

/** A plain HTML page with a title and one paragraph (sign-in results). */
export function page(title: string, text: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body style="font-family:sans-serif;max-width:40rem;margin:4rem auto"><h1>${esc(title)}</h1><p>${esc(text)}</p></body></html>`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
