import type { AiService } from "./service.ts";
import type { KeyVault } from "./vault.ts";

/** A Deepgram key as voice notes use it (structurally `voice/keys.ts` DeepgramKey). */
export interface VoiceDeepgramKey {
  apiKey: string;
  baseUrl?: string;
  scope: "user" | "workspace" | "env";
  owner: string;
  last4: string;
}

/**
 * The key vault seen from voice notes (the `VoiceKeySource` port of `voice/keys.ts`, wired in
 * main.ts): Deepgram keys resolved person → workspace → DEEPGRAM_API_KEY with refused stored keys
 * skipped; a refused stored key reported like an OpenAI/Anthropic one (marked, its admin told
 * once); audio seconds added to the tenant's `deepgram` usage of the month.
 */
export function voiceKeySource(ai: { vault: KeyVault; service: AiService }) {
  return {
    async resolve(tenantId: string, user?: string): Promise<VoiceDeepgramKey | undefined> {
      const k = await ai.vault.resolve(tenantId, "deepgram", user, { skipRefused: true });
      if (!k) return undefined;
      return {
        apiKey: k.apiKey,
        ...(k.baseURL ? { baseUrl: k.baseURL } : {}),
        scope: k.scope,
        owner: k.owner,
        last4: k.last4,
      };
    },
    async refused(tenantId: string, key: VoiceDeepgramKey): Promise<void> {
      await ai.service.keyRefused(tenantId, {
        provider: "deepgram",
        apiKey: key.apiKey,
        baseURL: key.baseUrl,
        scope: key.scope,
        owner: key.owner,
        last4: key.last4,
      });
    },
    async recordUsage(tenantId: string, audioSeconds: number): Promise<void> {
      await ai.vault.store.addUsage({ tenantId, provider: "deepgram", audioSeconds });
    },
  };
}
