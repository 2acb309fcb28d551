/**
 * The Slack payloads Atom accepts, as zod schemas, and the identity of each delivery. Everything
 * here is pure: the ack path validates with these, stores the parsed (stripped) payload as a job,
 * and the worker parses the stored payload again before normalising it.
 *
 * Shapes follow Slack's docs: Events API `event_callback` with `message` / `app_mention`
 * (https://docs.slack.dev/reference/events/message, …/app_mention), `app_uninstalled`,
 * `tokens_revoked`; slash commands (https://docs.slack.dev/interactivity/implementing-slash-commands);
 * `block_actions` (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
 * Unknown keys are stripped: the legacy verification `token` field never reaches the job table.
 */
import { z } from "zod";

/** Slack ids (team, channel, user, bot, enterprise): letters and digits. */
const slackId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "not a Slack id");
/** A message timestamp, e.g. `1717001234.000123`. */
const messageTs = z.string().regex(/^\d{1,12}\.\d{1,9}$/, "not a Slack message ts");
/**
 * Longest message text kept, in characters: Slack's own limit. Event text is HTML-escaped (`&` →
 * `&amp;`), so a message within Slack's limit can arrive longer; such text is cut here (the 1 MB
 * body limit bounds what arrives) and the core cuts it further, as it does for every long message.
 */
export const MAX_SLACK_TEXT = 40_000;
const text = z.string().transform((s) => (s.length > MAX_SLACK_TEXT ? s.slice(0, MAX_SLACK_TEXT) : s));

const slackFile = z.object({
  id: z.string().min(1).max(64),
  name: z.string().max(1000).nullish(),
  title: z.string().max(1000).nullish(),
  mimetype: z.string().max(255).nullish(),
  subtype: z.string().max(64).nullish(),
  filetype: z.string().max(64).nullish(),
  size: z.number().nonnegative().nullish(),
  url_private: z.string().url().max(2000).nullish(),
  url_private_download: z.string().url().max(2000).nullish(),
  duration_ms: z.number().nonnegative().nullish(),
});
export type SlackFile = z.infer<typeof slackFile>;

const messageFields = {
  channel: slackId,
  user: slackId.optional(),
  bot_id: slackId.optional(),
  text: text.optional(),
  ts: messageTs,
  thread_ts: messageTs.optional(),
  files: z.array(slackFile).max(100).optional(),
};

/** A `message` event (channel, group, DM). */
export const messageEvent = z.object({
  type: z.literal("message"),
  subtype: z.string().max(64).optional(),
  channel_type: z.enum(["channel", "group", "im", "mpim", "app_home"]).optional(),
  ...messageFields,
});
/** An `app_mention` event. */
export const appMentionEvent = z.object({
  type: z.literal("app_mention"),
  subtype: z.string().max(64).optional(),
  channel_type: z.enum(["channel", "group", "im", "mpim", "app_home"]).optional(),
  ...messageFields,
});
export type SlackMessageEvent = z.infer<typeof messageEvent> | z.infer<typeof appMentionEvent>;

/** Where the event came from: `event_callback` envelope fields Atom reads. */
const eventEnvelope = {
  type: z.literal("event_callback"),
  team_id: slackId.optional(),
  enterprise_id: slackId.nullish(),
  api_app_id: slackId.optional(),
  event_id: z.string().min(1).max(128),
  is_ext_shared_channel: z.boolean().optional(),
  authorizations: z
    .array(
      z.object({
        team_id: slackId.nullish(),
        enterprise_id: slackId.nullish(),
        is_enterprise_install: z.boolean().optional(),
      }),
    )
    .max(20)
    .optional(),
};

/** An Events API delivery carrying a person's message. */
export const messageCallback = z.object({
  ...eventEnvelope,
  event: z.union([messageEvent, appMentionEvent]),
});
export type SlackMessageCallback = z.infer<typeof messageCallback>;

/** `app_uninstalled` / `tokens_revoked`: the workspace removed Atom (or some of its tokens). */
export const lifecycleCallback = z.object({
  ...eventEnvelope,
  event: z.union([
    z.object({ type: z.literal("app_uninstalled") }),
    z.object({
      type: z.literal("tokens_revoked"),
      tokens: z.object({
        oauth: z.array(z.string().max(64)).max(1000).optional(),
        bot: z.array(z.string().max(64)).max(1000).optional(),
      }),
    }),
  ]),
});
export type SlackLifecycleCallback = z.infer<typeof lifecycleCallback>;

/** A slash command (form fields). `channel_id`, `user_id` and `trigger_id` are required. */
export const slashCommand = z.object({
  command: z.string().regex(/^\/[\w.-]{1,32}$/, "not a slash command"),
  text: z.string().max(4000).default(""),
  team_id: slackId,
  enterprise_id: slackId.optional().or(z.literal("").transform(() => undefined)),
  is_enterprise_install: z.enum(["true", "false"]).optional(),
  channel_id: slackId,
  channel_name: z.string().max(255).optional(),
  user_id: slackId,
  response_url: z
    .string()
    .url()
    .max(2000)
    .regex(/^https?:\/\//, "not an http(s) URL"),
  trigger_id: z.string().min(1).max(255),
});
export type SlackSlashCommand = z.infer<typeof slashCommand>;

/** A button press (`block_actions`), with the one action Atom reads. */
export const blockActions = z.object({
  type: z.literal("block_actions"),
  user: z.object({ id: slackId, team_id: slackId.optional() }),
  team: z.object({ id: slackId }).nullish(),
  enterprise: z.object({ id: slackId }).nullish(),
  is_enterprise_install: z.boolean().optional(),
  container: z
    .object({ type: z.string().max(64), channel_id: slackId.optional(), message_ts: messageTs.optional() })
    .optional(),
  channel: z.object({ id: slackId }).nullish(),
  response_url: z
    .string()
    .url()
    .max(2000)
    .regex(/^https?:\/\//)
    .optional(),
  actions: z
    .array(
      z.object({
        type: z.string().max(64),
        action_id: z.string().min(1).max(255),
        value: z.string().max(2000).optional(),
        action_ts: z.string().regex(/^\d{1,12}(\.\d{1,9})?$/, "not an action_ts"),
      }),
    )
    .min(1)
    .max(25),
});
export type SlackBlockActions = z.infer<typeof blockActions>;

/** What a worker finds in a Slack job: the parsed delivery and what it is. */
export type SlackInbound =
  | { source: "event"; body: SlackMessageCallback }
  | { source: "command"; body: SlackSlashCommand }
  | { source: "action"; body: SlackBlockActions };

/** Schema of a stored {@link SlackInbound} (re-checked in the worker). */
export const slackInbound = z.discriminatedUnion("source", [
  z.object({ source: z.literal("event"), body: messageCallback }),
  z.object({ source: z.literal("command"), body: slashCommand }),
  z.object({ source: z.literal("action"), body: blockActions }),
]);

/**
 * The workspace a delivery belongs to: the enterprise for an org-wide install, else the team.
 * Undefined when the payload names neither.
 */
export function workspaceOf(p: {
  teamId?: string | null;
  enterpriseId?: string | null;
  isEnterpriseInstall?: boolean;
}): string | undefined {
  const team = p.teamId ?? undefined;
  const enterprise = p.enterpriseId ?? undefined;
  return p.isEnterpriseInstall ? (enterprise ?? team) : (team ?? enterprise);
}

/** Team/enterprise of an Events API delivery (its first authorization decides org installs). */
export function callbackWorkspace(b: {
  team_id?: string;
  enterprise_id?: string | null;
  authorizations?: {
    team_id?: string | null;
    enterprise_id?: string | null;
    is_enterprise_install?: boolean;
  }[];
}): string | undefined {
  const auth = b.authorizations?.[0];
  return workspaceOf({
    teamId: b.team_id ?? auth?.team_id,
    enterpriseId: b.enterprise_id ?? auth?.enterprise_id,
    isEnterpriseInstall: auth?.is_enterprise_install,
  });
}

/** Workspace of a slash command. */
export function commandWorkspace(c: SlackSlashCommand): string | undefined {
  return workspaceOf({
    teamId: c.team_id,
    enterpriseId: c.enterprise_id,
    isEnterpriseInstall: c.is_enterprise_install === "true",
  });
}

/** Workspace of a button press. */
export function actionWorkspace(a: SlackBlockActions): string | undefined {
  return workspaceOf({
    teamId: a.team?.id ?? a.user.team_id,
    enterpriseId: a.enterprise?.id,
    isEnterpriseInstall: a.is_enterprise_install,
  });
}

/**
 * The identity of a delivery within its workspace — the job key, so a duplicate stops at the
 * INSERT: a message by channel + ts (its `app_mention` and `message` twins and every retry share
 * it), a command by `trigger_id`, a button press by its container and `action_ts`.
 */
export function identityOf(inbound: SlackInbound): string {
  switch (inbound.source) {
    case "event":
      return `msg:${inbound.body.event.channel}:${inbound.body.event.ts}`;
    case "command":
      return `cmd:${inbound.body.trigger_id}`;
    case "action": {
      const b = inbound.body;
      const action = b.actions[0]!;
      const where = `${b.container?.channel_id ?? b.channel?.id ?? ""}:${b.container?.message_ts ?? ""}`;
      return `act:${where}:${action.action_id}:${action.action_ts}`;
    }
  }
}

/** Message subtypes that are a person (or an allowed bot) writing; edits, deletes, joins are not. */
export const ANSWERABLE_SUBTYPES = new Set([
  undefined,
  "file_share",
  "thread_broadcast",
  "me_message",
  "bot_message",
]);
