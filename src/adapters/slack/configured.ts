import type { Config } from "../../config.ts";

/**
 * Whether any Slack setting is present (a bot token, OAuth client or app token). Kept apart from
 * the adapter so that a server without Slack never loads Bolt (~33 MB resident).
 */
export function slackConfigured(config: Config): boolean {
  const e = config.env;
  return Boolean(e.SLACK_BOT_TOKEN || e.SLACK_CLIENT_ID || e.SLACK_APP_TOKEN);
}
