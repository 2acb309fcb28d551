export { createSlackAdapter, downloadFile, slackConfigured } from "./adapter.ts";
export type { SlackAdapter, SlackAdapterDeps, SlackAdapterOptions, TenantPurger } from "./adapter.ts";
export { escapeMrkdwn, renderReply, slackToPlain, splitMrkdwn } from "./format.ts";
export { SlackInstallationStore, tenantForTeam } from "./installations.ts";
export { SLACK_BOT_SCOPES } from "./oauth.ts";
export { HonoSlackReceiver, verifySlackSignature } from "./receiver.ts";
