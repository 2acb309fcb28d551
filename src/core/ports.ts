/**
 * Ports owned by the core (DESIGN.md, "One core, many surfaces"). Adapters (Slack, Teams, the
 * terminal) translate what they receive into these shapes and implement the outbound ports; the
 * core, the bot and background jobs only ever see these types and never import an adapter.
 */
import type { Reply } from "../bot/reply.ts";

export type { Citation, Reply, ReplyAction, ReplyBlock } from "../bot/reply.ts";

/** A chat platform Atom talks on. */
export type Platform = "slack" | "teams" | "console";

/** A file attached to a chat message (voice notes, documents). */
export interface ChatFile {
  id: string;
  name: string;
  /** MIME type as the platform reports it (may be wrong, e.g. Slack voice clips say video/mp4). */
  mimetype?: string;
  /**
   * The adapter's verdict that this file is a recorded voice note (Slack `slack_audio`, a Teams
   * audio attachment). Platform-specific rules stay in the adapter; the core only reads this flag.
   */
  isVoiceNote?: boolean;
  /** Platform subtype, e.g. Slack `slack_audio` (informational; decisions use `isVoiceNote`). */
  subtype?: string;
  /** File type / extension as reported by the platform (mp4, m4a, …). */
  filetype?: string;
  /** Size in bytes, when the platform reports it. */
  size?: number;
  /** Where the bytes live (the adapter knows which credentials this URL needs). */
  downloadUrl?: string;
  /** Duration in seconds when the platform reports it. */
  durationSeconds?: number;
  /**
   * Fetches the file's bytes with the credentials the platform needs (Slack: the installation's
   * bot token; Teams: the pre-authenticated download URL). Set by the adapter.
   */
  download?: () => Promise<Buffer>;
}

/**
 * Everything an adapter receives becomes one ChatMessage (DESIGN.md, Core flows).
 * `threadId` is where the reply goes: Slack `thread_ts ?? ts`; Teams the conversation id
 * (including `;messageid=`); console a session id.
 */
export interface ChatMessage {
  platform: Platform;
  /** Atom tenant (Slack team / Teams tenant mapped to a tenant, or "default"). */
  tenantId: string;
  channelId: string;
  threadId: string;
  messageId: string;
  userId: string;
  userEmail?: string;
  /** Extra principals of the asker (group ids, `domain:x.com`), when known. */
  userGroups?: string[];
  /** The asker's IANA time zone when the platform reports it (Slack `users.info` tz, Teams `localTimezone`). */
  userTimeZone?: string;
  /**
   * Whether the asker administers this workspace (Slack `is_admin`/`is_owner` from `users.info`;
   * Teams: the installer or an `ATOM_ADMINS` e-mail), when the adapter knows. Undefined = unknown,
   * treated as not an admin.
   */
  userIsAdmin?: boolean;
  text: string;
  files: ChatFile[];
  /** A 1:1 conversation with the bot (Slack DM, Teams personal chat, terminal). */
  isDirect: boolean;
  mentionsBot: boolean;
  /** How the answer will be seen: `thread` (everyone in the channel) or `ephemeral` (asker only). */
  visibility: "thread" | "ephemeral";
  /**
   * Whether the conversation is shared with other organisations (Slack Connect `is_ext_shared`,
   * Teams shared channels), when known. Domain-shared documents are not used in such channels.
   */
  isExternallyShared?: boolean;
}

/**
 * An answer shown while it is being written (Slack `chat.startStream` / `appendStream`). Adapters
 * that can stream give one per inbound turn; the answer generator appends the model's text to it.
 * The adapter finishes the message with the final reply (citations, buttons) — or replaces it
 * when the final reply differs from what was streamed (an extractive fallback).
 */
export interface ReplyStream {
  /** Shows a short status while Atom works, e.g. "searching…" (Slack `assistant.threads.setStatus`). */
  status?(text: string): Promise<void>;
  /** Appends text, starting the message on the first call. Never throws: a broken stream is finished later. */
  append(text: string): Promise<void>;
}

/**
 * A button press on one of Atom's replies (feedback, share in channel, confirm a workflow…),
 * normalised by the adapter. `actionId`/`value` are the {@link ReplyAction} fields Atom rendered.
 */
export interface ChatAction {
  platform: Platform;
  tenantId: string;
  channelId: string;
  /** The thread of the message that carried the button, when known. */
  threadId?: string;
  userId: string;
  userEmail?: string;
  /** Whether the presser administers the workspace (as {@link ChatMessage.userIsAdmin}). */
  userIsAdmin?: boolean;
  actionId: string;
  value: string;
  isDirect: boolean;
}

/**
 * Where a proactive message goes (workflows, sync reports, scheduled posts). With `channelId`
 * the message goes to that conversation (in `threadId` when set); with only `userId` it goes to
 * the person's direct conversation with Atom.
 */
export interface ConversationTarget {
  platform: Platform;
  tenantId: string;
  channelId?: string;
  threadId?: string;
  /** Recipient of a direct message (platform user id) when no channel is given. */
  userId?: string;
}

/**
 * Proactive send: the port workflows and background jobs use to post without an inbound message.
 * Each adapter implements it.
 */
export interface Messenger {
  readonly platform: Platform;
  /**
   * Posts a reply to a conversation.
   * @returns the platform message id of the posted message.
   * @throws when the conversation is unknown or the platform refuses the message.
   */
  send(target: ConversationTarget, reply: Reply): Promise<{ messageId: string }>;
}

/**
 * Decides which Atom tenant a platform workspace belongs to (DESIGN.md, Tenants) — or that it is
 * not allowed at all. Implemented per platform from configuration and installations.
 */
export interface TenantResolver {
  /**
   * @param platformTenant the platform's own id (Slack team/enterprise id, Entra tenant id).
   * @returns the Atom tenant id, or undefined when this workspace may not use this Atom.
   */
  resolve(platformTenant: string | undefined): string | undefined;
}
