import type { Bot } from "../bot/types.ts";
import { registerConnectionCommands } from "./commands.ts";
import { googleProvider } from "./google.ts";
import { ConnectionService, type ConnectionsDeps } from "./service.ts";

export { ConnectionService } from "./service.ts";
export { SYNC_QUEUE } from "./types.ts";

/**
 * Composes the connections feature: the providers (Google Drive), the service with its `sync` job
 * queue, the chat commands and status lines on `bot`. Mount `service.routes` on the server.
 */
export function createConnections(deps: Omit<ConnectionsDeps, "providers">, bot: Bot): ConnectionService {
  const service = new ConnectionService({ ...deps, providers: [googleProvider({ config: deps.config })] });
  registerConnectionCommands(bot, service);
  return service;
}
