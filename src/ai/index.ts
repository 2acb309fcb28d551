import type { Config } from "../config.ts";
import type { Messenger, Platform } from "../core/ports.ts";
import { AiKeyStore } from "../db/ai-keys.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import { createSealer, parsePreviousKeys, type Sealer } from "../security/crypto.ts";
import { AiService } from "./service.ts";
import { KeyVault } from "./vault.ts";

export { AiService } from "./service.ts";
export { KeyVault } from "./vault.ts";
export { voiceKeySource } from "./voice-keys.ts";

/** Providers whose usage `status` lists. */
export const AI_PROVIDERS_FOR_STATUS: readonly string[] = ["openai", "anthropic", "deepgram"];

/** The AI feature of a process: the key vault and the service that uses it. */
export interface Ai {
  vault: KeyVault;
  service: AiService;
}

/**
 * Composes the BYOK feature: the key vault over `ai_keys` (sealed under the master key, loaded on
 * first use; ATOM_ENCRYPTION_KEY_PREVIOUS still opens older values) and the answer service.
 */
export function createAi(deps: {
  config: Config;
  db: Db;
  logger: Logger;
  masterKey: () => Buffer;
  messengers?: Map<Platform, Messenger>;
}): Ai {
  let sealer: Sealer | undefined;
  const vault = new KeyVault({
    store: new AiKeyStore(deps.db),
    sealer: () =>
      (sealer ??= createSealer(
        deps.masterKey(),
        parsePreviousKeys(deps.config.env.ATOM_ENCRYPTION_KEY_PREVIOUS),
      )),
    env: deps.config.env,
  });
  const service = new AiService({
    vault,
    config: deps.config,
    logger: deps.logger,
    messengers: deps.messengers,
  });
  return { vault, service };
}
