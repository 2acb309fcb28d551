import type { Bot } from "../bot/types.ts";
import { registerConnectionCommands } from "./commands.ts";
import { registerSharePointCommands } from "./sharepoint.ts";
import { googleProvider } from "./google.ts";
import { type MicrosoftProviderOptions, microsoftProvider } from "./microsoft.ts";

/** What tests (and private clouds) may set on the OneDrive provider besides the config. */
export type MicrosoftTestOptions = Omit<MicrosoftProviderOptions, "config">;
import { ConnectionService, type ConnectionsDeps } from "./service.ts";

export { ConnectionService } from "./service.ts";
export { SYNC_QUEUE } from "./types.ts";

/**
 * Composes the connections feature: the providers (Google Drive, OneDrive/SharePoint), the service with its `sync` job
 * queue, the chat commands and status lines on `bot`. Mount `service.routes` on the server.
 */
export function createConnections(
  deps: Omit<ConnectionsDeps, "providers">,
  bot: Bot,
  opts: { microsoft?: MicrosoftTestOptions } = {},
): ConnectionService {
  const service = new ConnectionService({
    ...deps,
    providers: [
      googleProvider({ config: deps.config }),
      microsoftProvider({ config: deps.config, ...opts.microsoft }),
    ],
  });
  registerConnectionCommands(bot, service);
  registerSharePointCommands(bot, service);
  return service;
}
