import type { webApi } from "@slack/bolt";
import { SocketModeClient } from "@slack/socket-mode";
import type { Logger } from "../../observability/logger.ts";
import { boltLogger } from "./bolt-logger.ts";
import type { DeliveryKind, IntakeResult } from "./intake.ts";

/** What Socket Mode hands a listener (https://docs.slack.dev/apis/events-api/using-socket-mode). */
interface SocketDelivery {
  ack: (response?: Record<string, unknown>) => Promise<void>;
  body: Record<string, unknown>;
}

/**
 * Socket Mode (`SLACK_APP_TOKEN`): deliveries arrive over a WebSocket opened with
 * `apps.connections.open` at the configured API URL. Each named listener runs the same intake as
 * the Request URL and acks only after the delivery is recorded; a delivery that could not be
 * recorded is not acked, so Slack sends it again. (Bolt's App would ack Events API deliveries
 * before its listeners run, so it is not used here.)
 */
export function startSocketMode(deps: {
  appToken: string;
  clientOptions: webApi.WebClientOptions;
  logger: Logger;
  intake: (payload: Record<string, unknown>, kind: DeliveryKind) => Promise<IntakeResult>;
}): { stop(): Promise<void> } {
  const log = deps.logger;
  const client = new SocketModeClient({
    appToken: deps.appToken,
    logger: boltLogger(log),
    clientOptions: deps.clientOptions,
  });
  const handle =
    (kind: DeliveryKind) =>
    async ({ ack, body }: SocketDelivery) => {
      const result = await deps.intake(body, kind);
      if (result.status === 503) return; // not recorded: no ack, Slack delivers it again
      if (result.status === 400)
        log.warn({ reason: result.note }, "slack socket delivery refused: malformed payload");
      await ack(result.status === 200 ? result.body : undefined);
    };
  const safely = (kind: DeliveryKind) => {
    const h = handle(kind);
    return (d: SocketDelivery) =>
      void h(d).catch((err: unknown) => log.error({ err }, "slack socket delivery failed"));
  };
  for (const event of ["app_mention", "message", "app_uninstalled", "tokens_revoked"]) {
    client.on(event, safely("events"));
  }
  client.on("slash_commands", safely("command"));
  client.on("interactive", safely("interactive"));
  client.start().catch((err: unknown) => log.error({ err }, "slack socket mode failed to start"));
  return {
    async stop() {
      await client.disconnect().catch(() => {});
    },
  };
}
