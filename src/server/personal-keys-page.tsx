import type { Context, Hono } from "hono";
import type { Ai } from "../ai/index.ts";
import { listModels } from "../ai/llm.ts";
import { label } from "../ai/service.ts";
import { type AiProvider, KeyInputError, type KeyInfo, userOwner } from "../ai/vault.ts";
import type { AuditInput } from "../db/audit.ts";
import { type AdminEnv, type AdminSession, type AdminWeb, PERSONAL_PATH } from "./admin-session.ts";

/** Providers a person can set their own key for. */
const PERSONAL_PROVIDERS: AiProvider[] = ["openai", "anthropic"];

interface Flash {
  ok: boolean;
  text: string;
}

/**
 * Mounts a person's own page (`/my-keys`, server-rendered with hono/jsx) behind
 * {@link AdminWeb.requirePerson}: anyone of the workspace, from the private link `my keys` (or
 * `settings` from a non-admin) gives them, or an admin's session.
 * - `GET /my-keys` — per provider (OpenAI, Anthropic): the person's own key (last 4 only, when set),
 *   or that the workspace's setup is used; never the workspace's key or its last 4.
 * - `POST /my-keys/keys/:provider` (`apiKey`, or `remove=1`), `POST /my-keys/test/:provider` (lists
 *   the provider's models with the person's own key). Every POST needs the session's `_csrf`.
 * The key is stored for `<platform>:<user id>` (vault resolution person → workspace → environment)
 * and audited as `key.set` / `key.removed` with scope `user` and the last 4 characters only.
 */
export function mountPersonalKeys(
  app: Hono,
  deps: { admin: AdminWeb; ai: Ai; audit?: (entry: AuditInput) => Promise<void> },
): void {
  const r = app as unknown as Hono<AdminEnv>;
  const ownerOf = (s: AdminSession) => userOwner(s.platform, s.userId);
  const audit = (s: AdminSession, entry: Omit<AuditInput, "tenantId" | "actor" | "platform">) =>
    deps.audit?.({ tenantId: s.tenantId, actor: s.userId, platform: s.platform, ...entry });
  r.use(PERSONAL_PATH, deps.admin.requirePerson);
  r.use(`${PERSONAL_PATH}/*`, deps.admin.requirePerson);
  r.get(PERSONAL_PATH, (c) => page(c, deps.ai));
  r.post(`${PERSONAL_PATH}/keys/:provider`, deps.admin.checkCsrf, async (c) => {
    const s = c.get("admin");
    const provider = PERSONAL_PROVIDERS.find((p) => p === c.req.param("provider"));
    if (!provider) return c.text("unknown provider", 404);
    const body = await c.req.parseBody();
    const owner = ownerOf(s);
    const by = owner;
    try {
      if (body.remove === "1") {
        await deps.ai.vault.remove({ tenantId: s.tenantId, provider, owner, setBy: by });
        await audit(s, { action: "key.removed", detail: { provider, scope: "user" } });
        return page(c, deps.ai, { ok: true, text: `Your ${label(provider)} key was removed.` });
      }
      const key = typeof body.apiKey === "string" ? body.apiKey.trim() : "";
      if (!key) return page(c, deps.ai, { ok: false, text: "Paste a key first." }, 400);
      await deps.ai.vault.set({ tenantId: s.tenantId, provider, apiKey: key, owner, setBy: by });
      await audit(s, { action: "key.set", detail: { provider, scope: "user", last4: key.slice(-4) } });
      return page(c, deps.ai, { ok: true, text: `Your ${label(provider)} key was saved.` });
    } catch (err) {
      const text = err instanceof KeyInputError ? err.message : "Could not save that.";
      return page(c, deps.ai, { ok: false, text }, 400);
    }
  });
  r.post(`${PERSONAL_PATH}/test/:provider`, deps.admin.checkCsrf, async (c) => {
    const s = c.get("admin");
    const provider = PERSONAL_PROVIDERS.find((p) => p === c.req.param("provider"));
    if (!provider) return c.text("unknown provider", 404);
    const key = await deps.ai.vault.resolve(s.tenantId, provider, ownerOf(s));
    // Only the person's own key is tested here (the workspace's is the admins' business).
    if (key?.scope !== "user")
      return page(c, deps.ai, {
        ok: false,
        text: `${label(provider)}: you have no key of your own to test.`,
      });
    try {
      const models = await listModels(key);
      await deps.ai.vault.store.markValid(s.tenantId, key.owner, provider);
      return page(c, deps.ai, {
        ok: true,
        text: `${label(provider)}: working — your key …${key.last4} lists ${models.length} models.`,
      });
    } catch (err) {
      const kind = (err as { kind?: string }).kind;
      const why =
        kind === "auth"
          ? "the key was refused"
          : kind === "rate_limit"
            ? "rate limited, try again shortly"
            : kind === "timeout"
              ? "no answer in time"
              : "the provider could not be reached";
      return page(c, deps.ai, { ok: false, text: `${label(provider)}: not working — ${why}.` });
    }
  });
}

async function page(c: Context<AdminEnv>, ai: Ai, flash?: Flash, status: 200 | 400 = 200) {
  const s = c.get("admin");
  const owner = userOwner(s.platform, s.userId);
  const mine = (await ai.vault.describe(s.tenantId)).filter((k) => k.owner === owner);
  c.header("Cache-Control", "no-store");
  c.header("X-Frame-Options", "DENY");
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  );
  return c.html(<PersonalPage session={s} mine={mine} flash={flash} />, status);
}

function PersonalPage(p: { session: AdminSession; mine: KeyInfo[]; flash?: Flash }) {
  const csrf = <input type="hidden" name="_csrf" value={p.session.csrf} />;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Your AI keys — Atom</title>
        <style>{`body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}
label{display:block;margin:.4rem 0}input[type=password]{width:100%;padding:.3rem}
.ok{background:#e7f7ea;border-color:#7c7}.err{background:#fbeaea;border-color:#d77}form.inline{display:inline}`}</style>
      </head>
      <body>
        <h1>Your AI keys</h1>
        <p>
          Signed in as <code>{p.session.userEmail ?? p.session.userId}</code> in workspace{" "}
          <code>{p.session.tenantId}</code>
          {p.session.scope === "admin" ? (
            <>
              {" "}
              · <a href="/settings">workspace settings</a>
            </>
          ) : null}
        </p>
        {p.flash ? (
          <p role="status" id="flash" class={p.flash.ok ? "ok" : "err"}>
            {p.flash.text}
          </p>
        ) : null}
        <p>
          A key of your own is used for your questions only, instead of the workspace's. It is stored
          encrypted and never shown again: only its last 4 characters.
        </p>
        {PERSONAL_PROVIDERS.map((provider) => {
          const k = p.mine.find((x) => x.provider === provider && x.hasKey);
          const state = k
            ? `Your key …${k.last4}, set ${k.setAt.toISOString().slice(0, 16).replace("T", " ")} UTC${k.invalidAt ? " — refused by the provider, replace it" : ""}`
            : "No key of your own: the workspace's setup is used.";
          return (
            <section id={`provider-${provider}`}>
              <h2>{label(provider)}</h2>
              <p class="state">{state}</p>
              <form method="post" action={`${PERSONAL_PATH}/keys/${provider}`}>
                {csrf}
                <label>
                  {k ? "Replace your key" : "Set your key"}
                  <input type="password" name="apiKey" autocomplete="off" placeholder="paste the API key" />
                </label>
                <button type="submit">Save</button>
              </form>
              {k ? (
                <>
                  <form method="post" action={`${PERSONAL_PATH}/keys/${provider}`} class="inline">
                    {csrf}
                    <input type="hidden" name="remove" value="1" />
                    <button type="submit">Remove my key</button>
                  </form>{" "}
                  <form method="post" action={`${PERSONAL_PATH}/test/${provider}`} class="inline">
                    {csrf}
                    <button type="submit" name="test" value={provider}>
                      Test
                    </button>
                  </form>
                </>
              ) : null}
            </section>
          );
        })}
      </body>
    </html>
  );
}
