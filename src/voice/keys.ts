import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Logger } from "../observability/logger.ts";
import { createDeepgramTranscriber } from "./deepgram.ts";
import type { Transcriber } from "./transcriber.ts";

/** A Deepgram key for one transcription, as resolved for a tenant (and person). Never logged. */
export interface DeepgramKey {
  apiKey: string;
  /** API root (`DEEPGRAM_API_URL` or the workspace's base URL); undefined = Deepgram's own. */
  baseUrl?: string;
  /** Where the key came from: a person's own, the workspace's, or the environment's. */
  scope: "user" | "workspace" | "env";
  /** Row owner of a stored key ('' workspace, `<platform>:<user>`); '' for the environment's. */
  owner: string;
  /** Last 4 characters, for logs and messages. */
  last4: string;
}

/**
 * Port of voice notes to the workspace key vault (implemented in `ai/`, wired in main.ts): which
 * Deepgram key transcribes a tenant's voice note, what to do when Deepgram refuses a stored key,
 * and where audio usage is counted.
 */
export interface VoiceKeySource {
  /**
   * The key for a voice note: the person's own (`user` = `<platform>:<user id>`), else the
   * workspace's, else DEEPGRAM_API_KEY; a stored key Deepgram refused earlier is skipped until it
   * is replaced. Undefined when there is none.
   */
  resolve(tenantId: string, user?: string): Promise<DeepgramKey | undefined>;
  /** Deepgram refused a stored key (401/403): mark it and tell the person who set it, once. */
  refused(tenantId: string, key: DeepgramKey): Promise<void>;
  /** Adds one successful transcription of `audioSeconds` seconds to the tenant's monthly usage. */
  recordUsage(tenantId: string, audioSeconds: number): Promise<void>;
}

/** The environment-only key source (no vault): DEEPGRAM_API_KEY and DEEPGRAM_API_URL. */
export function envKeySource(apiKey: string | undefined, baseUrl: string | undefined): VoiceKeySource {
  const key = apiKey?.trim();
  return {
    resolve: async () =>
      key
        ? { apiKey: key, ...(baseUrl ? { baseUrl } : {}), scope: "env", owner: "", last4: key.slice(-4) }
        : undefined,
    refused: async () => {},
    recordUsage: async () => {},
  };
}

/**
 * Deepgram transcribers per (key, base URL), least recently used dropped past `max` (default 200).
 * The cache is keyed by a SHA-256 of the key and URL, so the key itself is held only by its client.
 */
export class DeepgramClientCache {
  private readonly cache: LRUCache<string, Transcriber>;

  constructor(private readonly opts: { model?: string; logger?: Logger; max?: number }) {
    this.cache = new LRUCache<string, Transcriber>({ max: opts.max ?? 200 });
  }

  /** The transcriber of `key`, built on first use. */
  get(key: Pick<DeepgramKey, "apiKey" | "baseUrl">): Transcriber {
    const id = createHash("sha256")
      .update(`${key.apiKey}\u0000${key.baseUrl ?? ""}`)
      .digest("hex");
    let t = this.cache.get(id);
    if (!t) {
      t = createDeepgramTranscriber({
        apiKey: key.apiKey,
        baseUrl: key.baseUrl,
        model: this.opts.model,
        logger: this.opts.logger,
      });
      this.cache.set(id, t);
    }
    return t;
  }

  /** How many clients are cached. */
  get size(): number {
    return this.cache.size;
  }
}
