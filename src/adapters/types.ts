import type { Reply } from "../bot/reply.ts";

export type { Reply };

/** A chat platform Atom talks on. */
export type Platform = "slack" | "teams" | "console";

/** A file attached to a chat message (voice notes, documents). */
export interface ChatFile {
  id: string;
  name: string;
  /** MIME type as the platform reports it (may be wrong, e.g. Slack voice clips say video/mp4). */
  mimetype?: string;
  /** Platform subtype, e.g. Slack `slack_audio`. */
  subtype?: string;
  /** File type / extension as reported by the platform (mp4, m4a, …). */
  filetype?: string;
  size?: number;
  /** Where to download the bytes (the adapter knows which credentials this URL needs). */
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
  text: string;
  files: ChatFile[];
  /** A 1:1 conversation with the bot (Slack DM, Teams personal chat, terminal). */
  isDirect: boolean;
  mentionsBot: boolean;
  /** How the answer will be seen: `thread` (everyone in the channel) or `ephemeral` (asker only). */
  visibility: "thread" | "ephemeral";
}

/** Where a proactive message goes (workflows, scheduled posts). */
export interface ConversationTarget {
  platform: Platform;
  tenantId: string;
  channelId: string;
  threadId?: string;
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
