/**
 * Slack payload → core shapes ({@link ChatMessage}, {@link ChatAction}, {@link ChatFile}). Pure
 * functions: the caller supplies what needs the Web API (the bot identity, the asker's e-mail).
 * Slack-only rules live here, e.g. a `slack_audio` clip is a voice note even when its MIME type
 * says video (DESIGN.md, Voice note).
 */
import type { ChatAction, ChatFile, ChatMessage } from "../../core/ports.ts";
import { slackToPlain } from "./format.ts";
import type { BotIdentity } from "./identity.ts";
import {
  ANSWERABLE_SUBTYPES,
  type SlackBlockActions,
  type SlackFile,
  type SlackMessageCallback,
  type SlackSlashCommand,
} from "./payloads.ts";

/** Why a message is not for Atom, or undefined when it may be. */
export function skipReason(
  ev: SlackMessageCallback["event"],
  bot: BotIdentity | undefined,
  allowedBots: ReadonlySet<string>,
): string | undefined {
  if (!ANSWERABLE_SUBTYPES.has(ev.subtype)) return `message subtype ${ev.subtype}`;
  if (ev.bot_id || ev.subtype === "bot_message") {
    if (ev.bot_id && ev.bot_id === bot?.botId) return "Atom's own message";
    if (!ev.bot_id || !allowedBots.has(ev.bot_id)) return "a message from another bot";
  }
  if (ev.user && ev.user === bot?.botUserId) return "Atom's own message";
  return undefined;
}

/**
 * Whether a message can only be for Atom after a database look-up or not at all, decided without
 * any I/O on the ack path: a channel message that is not a DM, names no bot user it could be
 * mentioning and is not in a thread cannot be for Atom.
 */
export function cannotBeForAtom(ev: SlackMessageCallback["event"], bot: BotIdentity | undefined): boolean {
  if (ev.type === "app_mention" || ev.channel_type === "im" || ev.thread_ts) return false;
  const text = ev.text ?? "";
  if (bot?.botUserId) return !text.includes(`<@${bot.botUserId}`);
  return !text.includes("<@");
}

/** Core file entries of a message's `files[]`; `download` fetches with the workspace's token. */
export function filesOf(
  files: SlackFile[] | undefined,
  download: (url: string) => Promise<Buffer>,
): ChatFile[] {
  return (files ?? []).map((f) => {
    const url = f.url_private_download ?? f.url_private ?? undefined;
    const mimetype = f.mimetype ?? undefined;
    const file: ChatFile = {
      id: f.id,
      name: f.name ?? f.title ?? f.id,
      mimetype,
      subtype: f.subtype ?? undefined,
      filetype: f.filetype ?? undefined,
      size: f.size ?? undefined,
      downloadUrl: url,
      durationSeconds: typeof f.duration_ms === "number" ? f.duration_ms / 1000 : undefined,
      // Slack records voice clips as `slack_audio`, often with a video/* MIME type (mp4/webm).
      isVoiceNote: f.subtype === "slack_audio" || Boolean(mimetype?.toLowerCase().startsWith("audio/")),
    };
    if (url) file.download = () => download(url);
    return file;
  });
}

/**
 * What `users.info` says about a person, as Atom uses it: e-mail (`users:read.email`), IANA time
 * zone (`tz`) and whether they administer the workspace (`is_admin` or `is_owner`).
 * https://api.slack.com/methods/users.info
 */
export interface SlackProfile {
  email?: string;
  timeZone?: string;
  isAdmin?: boolean;
}

/** A message event as a core message (in the thread of the message: `thread_ts ?? ts`). */
export function messageOf(
  body: SlackMessageCallback,
  p: {
    tenantId: string;
    bot: BotIdentity | undefined;
    userEmail?: string;
    user?: SlackProfile;
    files: ChatFile[];
  },
): ChatMessage {
  const ev = body.event;
  const text = ev.text ?? "";
  const isDirect = ev.channel_type === "im";
  return {
    platform: "slack",
    tenantId: p.tenantId,
    channelId: ev.channel,
    threadId: ev.thread_ts ?? ev.ts,
    messageId: ev.ts,
    userId: ev.user ?? ev.bot_id ?? "unknown",
    userEmail: p.userEmail,
    userTimeZone: p.user?.timeZone,
    userIsAdmin: p.user?.isAdmin,
    text: slackToPlain(text, p.bot?.botUserId),
    files: p.files,
    isDirect,
    mentionsBot:
      ev.type === "app_mention" || (p.bot?.botUserId ? text.includes(`<@${p.bot.botUserId}`) : false),
    visibility: "thread",
    isExternallyShared: body.is_ext_shared_channel,
  };
}

/** Whether a slash command was typed in a DM with Atom. */
export function commandIsDirect(c: SlackSlashCommand): boolean {
  return c.channel_name === "directmessage" || c.channel_id.startsWith("D");
}

/** A slash command as a core message: answered privately (ephemeral), its own "thread". */
export function commandMessageOf(
  c: SlackSlashCommand,
  p: {
    tenantId: string;
    bot: BotIdentity | undefined;
    userEmail?: string;
    user?: SlackProfile;
    isExternallyShared?: boolean;
  },
): ChatMessage {
  return {
    platform: "slack",
    tenantId: p.tenantId,
    channelId: c.channel_id,
    threadId: `command:${c.trigger_id}`,
    messageId: c.trigger_id,
    userId: c.user_id,
    userEmail: p.userEmail,
    userTimeZone: p.user?.timeZone,
    userIsAdmin: p.user?.isAdmin,
    text: slackToPlain(c.text, p.bot?.botUserId),
    files: [],
    isDirect: commandIsDirect(c),
    mentionsBot: true,
    visibility: "ephemeral",
    isExternallyShared: p.isExternallyShared,
  };
}

/** The channel a button was pressed in. */
export function actionChannel(b: SlackBlockActions): string | undefined {
  return b.container?.channel_id ?? b.channel?.id ?? undefined;
}

/** A button press as a core action, or undefined when it is not a button. */
export function actionOf(
  b: SlackBlockActions,
  p: { tenantId: string; userEmail?: string; user?: SlackProfile },
): ChatAction | undefined {
  const a = b.actions[0];
  if (a?.type !== "button") return undefined;
  const channelId = actionChannel(b) ?? "";
  return {
    platform: "slack",
    tenantId: p.tenantId,
    channelId,
    threadId: b.container?.message_ts,
    userId: b.user.id,
    userEmail: p.userEmail ?? p.user?.email,
    userIsAdmin: p.user?.isAdmin,
    actionId: a.action_id,
    value: a.value ?? "",
    isDirect: channelId.startsWith("D"),
  };
}
