import type { Config } from "../config.ts";
import { type AiKeyRow, type AiKeyStore, type AiProvider, AI_PROVIDERS } from "../db/ai-keys.ts";
import type { Sealer } from "../security/crypto.ts";

export type { AiProvider } from "../db/ai-keys.ts";
export { AI_PROVIDERS } from "../db/ai-keys.ts";

/** Where a resolved key came from, in resolution order. */
export type KeyScope = "user" | "workspace" | "env";

/** The key Atom uses for one call: never logged, never shown (only `last4`). */
export interface ResolvedKey {
  provider: AiProvider;
  apiKey: string;
  /** API root, e.g. `https://api.openai.com/v1`; undefined = the SDK's default. */
  baseURL?: string;
  scope: KeyScope;
  /** Row owner ('' workspace, `<platform>:<user>`), '' for the environment key. */
  owner: string;
  /** Last 4 characters of the key, for display. */
  last4: string;
}

/** What the settings page shows of a stored key: never the key itself. */
export interface KeyInfo {
  provider: AiProvider;
  owner: string;
  /** Whether a key is stored (a row may hold only a base URL). */
  hasKey: boolean;
  last4: string | null;
  baseUrl: string | null;
  setBy: string;
  setAt: Date;
  /** When the provider refused the key (401); null when not known to be bad. */
  invalidAt: Date | null;
}

/** Raised for a key or base URL that cannot be stored; the message never contains the key. */
export class KeyInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyInputError";
  }
}

/** Environment variables of each provider's key and base URL. */
const ENV: Record<AiProvider, { key: string; baseUrl?: string }> = {
  openai: { key: "OPENAI_API_KEY", baseUrl: "OPENAI_BASE_URL" },
  anthropic: { key: "ANTHROPIC_API_KEY", baseUrl: "ANTHROPIC_BASE_URL" },
  deepgram: { key: "DEEPGRAM_API_KEY", baseUrl: "DEEPGRAM_API_URL" },
};

/** The row owner of a person's own key. */
export const userOwner = (platform: string, userId: string): string => `${platform}:${userId}`;

const last4 = (key: string) => key.slice(-4);
/** Additional authenticated data of a sealed AI key: a copy on another row does not open. */
export const aiKeyContext = (tenantId: string, owner: string, provider: string): string =>
  `ai-key:${tenantId}:${owner}:${provider}`;
const contextOf = aiKeyContext;

/**
 * The BYOK key vault (DESIGN.md, ai/): keys per tenant (workspace) and optionally per person for
 * OpenAI, Anthropic and Deepgram, sealed with AES-256-GCM envelope encryption under the master key
 * (security/crypto.ts; the value names the master key id, so `atom keys rotate` can re-seal after
 * a rotation), bound to their row (tenant, owner, provider) as authenticated data.
 *
 * Resolution order for a call: the asker's own key → the workspace key → the environment
 * (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `DEEPGRAM_API_KEY`). The base URL comes from the row that
 * gave the key, else the workspace row, else `OPENAI_BASE_URL` / `ANTHROPIC_BASE_URL` /
 * `DEEPGRAM_API_URL`.
 */
export class KeyVault {
  constructor(
    private readonly deps: {
      store: AiKeyStore;
      /** Built on first use (loads the master key). */
      sealer: () => Sealer;
      env: Partial<Config["env"]>;
    },
  ) {}

  get store(): AiKeyStore {
    return this.deps.store;
  }

  /**
   * Stores (or replaces) a key. `owner` '' (default) is the workspace key.
   * @throws KeyInputError for an empty key, whitespace inside, or an implausible length.
   */
  async set(input: {
    tenantId: string;
    provider: AiProvider;
    apiKey: string;
    owner?: string;
    setBy: string;
  }): Promise<void> {
    const key = input.apiKey.trim();
    if (!AI_PROVIDERS.includes(input.provider)) throw new KeyInputError("unknown provider");
    if (key.length < 8 || key.length > 512 || /\s/.test(key)) {
      throw new KeyInputError("That does not look like an API key (8 to 512 characters, no spaces).");
    }
    const owner = input.owner ?? "";
    await this.deps.store.putKey({
      tenantId: input.tenantId,
      owner,
      provider: input.provider,
      keySealed: this.deps.sealer().seal(key, contextOf(input.tenantId, owner, input.provider)),
      keyLast4: last4(key),
      setBy: input.setBy,
    });
  }

  /** Removes a key (a base URL on the same row stays). */
  async remove(input: {
    tenantId: string;
    provider: AiProvider;
    owner?: string;
    setBy: string;
  }): Promise<void> {
    await this.deps.store.putKey({
      tenantId: input.tenantId,
      owner: input.owner ?? "",
      provider: input.provider,
      keySealed: null,
      keyLast4: null,
      setBy: input.setBy,
    });
  }

  /**
   * Sets or clears (empty/null) the base URL of a provider (Azure OpenAI, a proxy, a local
   * OpenAI-compatible server).
   * @throws KeyInputError when it is not an http(s) URL.
   */
  async setBaseUrl(input: {
    tenantId: string;
    provider: AiProvider;
    baseUrl: string | null;
    owner?: string;
    setBy: string;
  }): Promise<void> {
    const raw = input.baseUrl?.trim() || null;
    if (raw !== null) {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new KeyInputError("The base URL must be a full http(s) URL, e.g. https://example.com/v1");
      }
      if (u.protocol !== "https:" && u.protocol !== "http:") {
        throw new KeyInputError("The base URL must be a full http(s) URL, e.g. https://example.com/v1");
      }
      if (u.username || u.password)
        throw new KeyInputError("The base URL must not contain a user or password.");
    }
    await this.deps.store.putBaseUrl({
      tenantId: input.tenantId,
      owner: input.owner ?? "",
      provider: input.provider,
      baseUrl: raw?.replace(/\/+$/, "") ?? null,
      setBy: input.setBy,
    });
  }

  /** What is stored for a tenant (workspace and people's rows), without any key. */
  async describe(tenantId: string): Promise<KeyInfo[]> {
    return (await this.deps.store.list(tenantId)).map((r) => ({
      provider: r.provider,
      owner: r.owner,
      hasKey: r.keySealed !== null,
      last4: r.keyLast4,
      baseUrl: r.baseUrl,
      setBy: r.setBy,
      setAt: r.setAt,
      invalidAt: r.invalidAt,
    }));
  }

  /** Whether the environment holds a key for `provider`. */
  envKey(provider: AiProvider): string | undefined {
    const v = (this.deps.env as Record<string, unknown>)[ENV[provider].key];
    return typeof v === "string" && v.trim() ? v.trim() : undefined;
  }

  private envBaseUrl(provider: AiProvider): string | undefined {
    const name = ENV[provider].baseUrl;
    const v = name ? (this.deps.env as Record<string, unknown>)[name] : undefined;
    return typeof v === "string" && v ? v : undefined;
  }

  /**
   * The key for a call: the person's own (`user`, as `<platform>:<user id>`), else the
   * workspace's, else the environment's; undefined when none. A stored key that cannot be opened
   * (master key lost) is skipped, and so is one the provider refused when `opts.skipRefused`.
   */
  async resolve(
    tenantId: string,
    provider: AiProvider,
    user?: string,
    opts: { skipRefused?: boolean } = {},
  ): Promise<ResolvedKey | undefined> {
    const rows = (await this.deps.store.list(tenantId)).filter((r) => r.provider === provider);
    const workspace = rows.find((r) => r.owner === "");
    const personal = user ? rows.find((r) => r.owner === user) : undefined;
    for (const [row, scope] of [
      [personal, "user"],
      [workspace, "workspace"],
    ] as const) {
      if (!row?.keySealed) continue;
      if (opts.skipRefused && row.invalidAt) continue;
      const apiKey = this.openRow(row);
      if (!apiKey) continue;
      return {
        provider,
        apiKey,
        baseURL: row.baseUrl ?? workspace?.baseUrl ?? this.envBaseUrl(provider),
        scope,
        owner: row.owner,
        last4: last4(apiKey),
      };
    }
    const env = this.envKey(provider);
    if (!env) return undefined;
    return {
      provider,
      apiKey: env,
      baseURL: workspace?.baseUrl ?? this.envBaseUrl(provider),
      scope: "env",
      owner: "",
      last4: last4(env),
    };
  }

  private openRow(row: AiKeyRow): string | undefined {
    try {
      return this.deps.sealer().open(row.keySealed!, contextOf(row.tenantId, row.owner, row.provider));
    } catch {
      return undefined;
    }
  }

  /**
   * Re-seals every stored key that was sealed with another master key than the current one
   * (`atom keys rotate`, after setting the new ATOM_ENCRYPTION_KEY and the old one in
   * ATOM_ENCRYPTION_KEY_PREVIOUS).
   * @returns how many were re-sealed, already current, and could not be opened with any known key.
   */
  async rotate(): Promise<{ resealed: number; current: number; unreadable: number }> {
    const sealer = this.deps.sealer();
    const out = { resealed: 0, current: 0, unreadable: 0 };
    for (const row of await this.deps.store.list()) {
      if (!row.keySealed) continue;
      if (!sealer.needsReseal(row.keySealed)) {
        out.current++;
        continue;
      }
      const key = this.openRow(row);
      if (key === undefined) {
        out.unreadable++;
        continue;
      }
      const sealed = sealer.seal(key, contextOf(row.tenantId, row.owner, row.provider));
      if (await this.deps.store.reseal(row.tenantId, row.owner, row.provider, row.keySealed, sealed))
        out.resealed++;
    }
    return out;
  }
}
