import type { Context, Hono } from "hono";
import type { Ai } from "../ai/index.ts";
import { listModels } from "../ai/llm.ts";
import { label } from "../ai/service.ts";
import { AI_PROVIDERS, type AiProvider, KeyInputError, type KeyInfo } from "../ai/vault.ts";
import type { AiSettingsRow, AiUsageRow } from "../db/ai-keys.ts";
import type { AuditInput } from "../db/audit.ts";
import { type AdminEnv, type AdminSession, type AdminWeb, PERSONAL_PATH } from "./admin-session.ts";
import { mountPersonalKeys } from "./personal-keys-page.tsx";

/** A line shown at the top of the page after an action. */
interface Flash {
  ok: boolean;
  text: string;
}

const PROVIDERS_WITH_MODELS: AiProvider[] = ["openai", "anthropic"];

/**
 * Mounts Atom's settings page (server-rendered with hono/jsx, no front-end build) behind the admin
 * session (server/admin-session.ts):
 * - `GET /settings` — per provider: the workspace key (last 4 only, who set it and when, or the
 *   environment's), base URL, set/replace/remove forms and a Test button; the answer and embedding
 *   model; usage this month.
 * - `POST /settings/keys/:provider` (`apiKey`, `baseUrl`, `remove`), `POST /settings/test/:provider`
 *   (lists the provider's models: a cheap real call), `POST /settings/models`. Every POST needs the
 *   session's CSRF token (`_csrf`); each answers with the page and a one-line result.
 * Keys are never rendered, logged or echoed in errors. Also mounts everyone's own page
 * (`/my-keys`, server/personal-keys-page.tsx), which the admin page links to.
 */
export function mountSettings(
  app: Hono,
  deps: {
    admin: AdminWeb;
    ai: Ai;
    /** Records key and settings changes in the audit log (the key's last 4 characters, never the key). */
    audit?: (entry: AuditInput) => Promise<void>;
    /**
     * Called after an OpenAI key, base URL or model choice of a tenant changed (embeddings
     * re-resolve and re-embed in the background). Must not throw.
     */
    onAiChanged?: (tenantId: string, provider: AiProvider | "models") => void;
    /** The tenant's search mode and embedding coverage, shown under the models (ai/status.ts). */
    embeddingStatus?: (tenantId: string) => Promise<string[]>;
  },
): void {
  const audit = (s: AdminSession, entry: Omit<AuditInput, "tenantId" | "actor" | "platform">) =>
    deps.audit?.({ tenantId: s.tenantId, actor: s.userId, platform: s.platform, ...entry });
  // Everyone's own page (their own keys) lives beside the admins' page.
  mountPersonalKeys(app, deps);
  const r = app as unknown as Hono<AdminEnv>;
  r.use("/settings", deps.admin.requireAdmin);
  r.use("/settings/*", deps.admin.requireAdmin);
  r.get("/settings", async (c) => page(c, deps));
  r.post("/settings/keys/:provider", deps.admin.checkCsrf, async (c) => {
    const s = c.get("admin");
    const provider = providerOf(c.req.param("provider"));
    if (!provider) return c.text("unknown provider", 404);
    const body = await c.req.parseBody();
    const by = `${s.platform}:${s.userId}`;
    try {
      if (body.remove === "1") {
        await deps.ai.vault.remove({ tenantId: s.tenantId, provider, setBy: by });
        await audit(s, { action: "key.removed", detail: { provider, scope: "workspace" } });
        deps.onAiChanged?.(s.tenantId, provider);
        return page(c, deps, { ok: true, text: `${label(provider)} key removed.` });
      }
      const key = typeof body.apiKey === "string" ? body.apiKey.trim() : "";
      if (key) {
        await deps.ai.vault.set({ tenantId: s.tenantId, provider, apiKey: key, setBy: by });
        await audit(s, {
          action: "key.set",
          detail: { provider, scope: "workspace", last4: key.slice(-4) },
        });
      }
      if (typeof body.baseUrl === "string") {
        const current = (await deps.ai.vault.describe(s.tenantId)).find(
          (k) => k.owner === "" && k.provider === provider,
        );
        if ((current?.baseUrl ?? "") !== body.baseUrl.trim()) {
          await deps.ai.vault.setBaseUrl({
            tenantId: s.tenantId,
            provider,
            baseUrl: body.baseUrl,
            setBy: by,
          });
          await audit(s, { action: "settings.changed", detail: { provider, setting: "base URL" } });
        }
      }
      deps.onAiChanged?.(s.tenantId, provider);
      return page(c, deps, { ok: true, text: `${label(provider)} settings saved.` });
    } catch (err) {
      const text = err instanceof KeyInputError ? err.message : "Could not save that.";
      return page(c, deps, { ok: false, text }, 400);
    }
  });
  r.post("/settings/test/:provider", deps.admin.checkCsrf, async (c) => {
    const s = c.get("admin");
    const provider = providerOf(c.req.param("provider"));
    if (!provider || provider === "deepgram") return c.text("unknown provider", 404);
    const key = await deps.ai.vault.resolve(s.tenantId, provider);
    if (!key) return page(c, deps, { ok: false, text: `${label(provider)}: no key to test.` });
    try {
      const models = await listModels(key);
      await deps.ai.vault.store.markValid(s.tenantId, key.owner, provider);
      return page(c, deps, {
        ok: true,
        text: `${label(provider)}: working — the key …${key.last4} lists ${models.length} models.`,
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
      return page(c, deps, { ok: false, text: `${label(provider)}: not working — ${why}.` });
    }
  });
  r.post("/settings/models", deps.admin.checkCsrf, async (c) => {
    const s = c.get("admin");
    const body = await c.req.parseBody();
    const str = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim().slice(0, 200) : null);
    const answerProvider = providerOf(String(body.answerProvider ?? ""));
    await deps.ai.vault.store.putSettings(
      s.tenantId,
      {
        answerProvider: answerProvider && answerProvider !== "deepgram" ? answerProvider : null,
        answerModel: str(body.answerModel),
        embeddingModel: str(body.embeddingModel),
      },
      `${s.platform}:${s.userId}`,
    );
    await audit(s, { action: "settings.changed", detail: { setting: "models" } });
    deps.onAiChanged?.(s.tenantId, "models");
    return page(c, deps, { ok: true, text: "Models saved." });
  });
}

function providerOf(p: string | undefined): AiProvider | undefined {
  return AI_PROVIDERS.find((x) => x === p);
}

async function page(
  c: Context<AdminEnv>,
  deps: { ai: Ai; embeddingStatus?: (tenantId: string) => Promise<string[]> },
  flash?: Flash,
  status: 200 | 400 = 200,
) {
  const s = c.get("admin");
  const [keys, settings, usage, search] = await Promise.all([
    deps.ai.vault.describe(s.tenantId),
    deps.ai.vault.store.settings(s.tenantId),
    deps.ai.vault.store.usage(s.tenantId),
    deps.embeddingStatus?.(s.tenantId).catch(() => []) ?? Promise.resolve([]),
  ]);
  c.header("Cache-Control", "no-store");
  c.header("X-Frame-Options", "DENY");
  c.header(
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  );
  const envKeys = Object.fromEntries(AI_PROVIDERS.map((p) => [p, deps.ai.vault.envKey(p)])) as Record<
    AiProvider,
    string | undefined
  >;
  return c.html(
    <SettingsPage
      session={s}
      keys={keys}
      settings={settings}
      usage={usage}
      search={search}
      envKeys={envKeys}
      flash={flash}
    />,
    status,
  );
}

function SettingsPage(p: {
  session: AdminSession;
  keys: KeyInfo[];
  settings: AiSettingsRow;
  usage: AiUsageRow[];
  search: string[];
  envKeys: Record<AiProvider, string | undefined>;
  flash?: Flash;
}) {
  const csrf = <input type="hidden" name="_csrf" value={p.session.csrf} />;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Atom settings</title>
        <style>{`body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border:1px solid #ddd;border-radius:8px;padding:1rem;margin:1rem 0}
label{display:block;margin:.4rem 0}input[type=text],input[type=password]{width:100%;padding:.3rem}
.ok{background:#e7f7ea;border-color:#7c7}.err{background:#fbeaea;border-color:#d77}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #eee;text-align:left}
form.inline{display:inline}`}</style>
      </head>
      <body>
        <h1>Atom settings</h1>
        <p>
          Workspace <code>{p.session.tenantId}</code> · signed in as{" "}
          <code>{p.session.userEmail ?? p.session.userId}</code> ·{" "}
          <a href={PERSONAL_PATH} id="my-keys">
            your own keys
          </a>
        </p>
        {p.flash ? (
          <p role="status" id="flash" class={p.flash.ok ? "ok" : "err"}>
            {p.flash.text}
          </p>
        ) : null}
        <h2>AI keys</h2>
        <p>
          Keys are stored encrypted and never shown again: only their last 4 characters. Without a key Atom
          quotes passages from your documents.
        </p>
        {AI_PROVIDERS.map((provider) => {
          const ws = p.keys.find((k) => k.owner === "" && k.provider === provider);
          const people = p.keys.filter((k) => k.owner !== "" && k.provider === provider && k.hasKey).length;
          const env = p.envKeys[provider];
          const state = ws?.hasKey
            ? `Workspace key …${ws.last4}, set by ${ws.setBy} at ${ws.setAt.toISOString().slice(0, 16).replace("T", " ")} UTC${ws.invalidAt ? " — refused by the provider, replace it" : ""}`
            : env
              ? `Using the server's environment key …${env.slice(-4)}`
              : "No key";
          return (
            <section id={`provider-${provider}`}>
              <h3>{label(provider)}</h3>
              <p class="state">{state}</p>
              {people > 0 ? <p>{people} person(s) use their own key.</p> : null}
              <form method="post" action={`/settings/keys/${provider}`}>
                {csrf}
                <label>
                  {ws?.hasKey ? "Replace key" : "Set key"}
                  <input type="password" name="apiKey" autocomplete="off" placeholder="paste the API key" />
                </label>
                <label>
                  Base URL (optional: Azure OpenAI, a proxy, a local OpenAI-compatible server)
                  <input type="text" name="baseUrl" value={ws?.baseUrl ?? ""} placeholder="https://…/v1" />
                </label>
                <button type="submit">Save</button>
              </form>
              {ws?.hasKey ? (
                <form method="post" action={`/settings/keys/${provider}`} class="inline">
                  {csrf}
                  <input type="hidden" name="remove" value="1" />
                  <button type="submit">Remove key</button>
                </form>
              ) : null}
              {PROVIDERS_WITH_MODELS.includes(provider) ? (
                <form method="post" action={`/settings/test/${provider}`} class="inline">
                  {csrf}
                  <button type="submit" name="test" value={provider}>
                    Test
                  </button>
                </form>
              ) : null}
            </section>
          );
        })}
        <h2>Models</h2>
        <section>
          <form method="post" action="/settings/models">
            {csrf}
            <label>
              Answer provider
              <select name="answerProvider">
                <option value="" selected={!p.settings.answerProvider}>
                  automatic (OpenAI, else Anthropic)
                </option>
                {PROVIDERS_WITH_MODELS.map((x) => (
                  <option value={x} selected={p.settings.answerProvider === x}>
                    {label(x)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Answer model
              <input
                type="text"
                name="answerModel"
                value={p.settings.answerModel ?? ""}
                placeholder="default"
              />
            </label>
            <label>
              Embedding model (OpenAI; a change re-indexes in the background; “off” for full-text search only)
              <input
                type="text"
                name="embeddingModel"
                value={p.settings.embeddingModel ?? ""}
                placeholder="text-embedding-3-small"
              />
            </label>
            <button type="submit">Save models</button>
          </form>
          {p.search.length > 0 ? (
            <ul id="search-status">
              {p.search.map((line) => (
                <li>{line}</li>
              ))}
            </ul>
          ) : null}
        </section>
        <h2>Usage this month</h2>
        <section id="usage">
          {p.usage.length === 0 ? (
            <p>No AI calls this month.</p>
          ) : (
            <table>
              <tr>
                <th>Provider</th>
                <th>Calls</th>
                <th>Input tokens</th>
                <th>Output tokens</th>
                <th>Audio minutes</th>
              </tr>
              {p.usage.map((u) => (
                <tr>
                  <td>{u.provider}</td>
                  <td>{u.calls}</td>
                  <td>{u.inputTokens}</td>
                  <td>{u.outputTokens}</td>
                  <td>{(u.audioSeconds / 60).toFixed(1)}</td>
                </tr>
              ))}
            </table>
          )}
        </section>
      </body>
    </html>
  );
}
