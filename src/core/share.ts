/**
 * "Share in channel" (DESIGN.md, Permissions): a private answer (Slack `/atom` is answered
 * ephemerally, from the asker's own access) can be re-posted to the conversation by its asker.
 * Because the audience grows, the permission check runs again with the conversation's principals
 * (a channel sees only what everyone may see): an answer citing a document the channel may not see
 * is not shared, and the asker is told which documents stop it.
 */
import { randomBytes } from "node:crypto";
import { makeReply } from "../bot/reply.ts";
import type { ActionHandlerSpec } from "../bot/types.ts";
import { documentAcls } from "../db/documents.ts";
import { type CitedDocument, ShareStore } from "../db/shares.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import { principalsFor } from "../security/permissions.ts";
import type { ChatMessage, Messenger, Platform, Reply } from "./ports.ts";

/** `actionId` of the share button; its `value` is the share id. */
export const SHARE_ACTION_ID = "share_in_channel";

/** Reply intent of a successful share (adapters may remove the private copy then). */
export const SHARED_INTENT = "share.done";

/** Intents whose replies are not offered for sharing (they are about the asker or Atom itself). */
const NOT_SHAREABLE = new Set(["help", "status", "error", "feedback", "voice", SHARED_INTENT]);

/** Share in channel, as the pipeline and adapters use it. */
export interface Shares {
  /**
   * Offers a private reply for sharing: stores it with the documents it cited and adds the share
   * button to it. Replies that are not private, in a 1:1 chat, or not worth sharing (help, status,
   * errors) come back unchanged.
   */
  offer(msg: ChatMessage, reply: Reply): Promise<Reply>;
  /** The button handler (register it on the bot). */
  readonly handler: ActionHandlerSpec;
}

/** A message for the asker when sharing is refused or fails. */
const say = (text: string) => makeReply({ intent: "share", text, visibility: "ephemeral" });

/**
 * Creates the share service. Posting goes through the platform's {@link Messenger} (looked up
 * when the button is pressed, so adapters may register after this is created).
 */
export function createShares(deps: {
  db: Db;
  messengers: ReadonlyMap<Platform, Messenger>;
  logger: Logger;
}): Shares {
  const store = new ShareStore(deps.db);
  const log = deps.logger.child({ component: "share" });

  return {
    async offer(msg, reply) {
      if (msg.visibility !== "ephemeral" || msg.isDirect || NOT_SHAREABLE.has(reply.intent)) return reply;
      const shareId = randomBytes(12).toString("base64url");
      const cited: CitedDocument[] = reply.citations.map((c) => ({
        source: c.source ?? "",
        docId: c.docId ?? "",
        title: c.title,
      }));
      const stored: Reply = { ...reply, actions: [], visibility: "thread" };
      await store.create({
        shareId,
        tenantId: msg.tenantId,
        platform: msg.platform,
        channelId: msg.channelId,
        userId: msg.userId,
        isDirect: msg.isDirect,
        reply: stored,
        cited,
      });
      return {
        ...reply,
        actions: [...reply.actions, { id: SHARE_ACTION_ID, label: "Share in channel", value: shareId }],
      };
    },

    handler: {
      prefix: SHARE_ACTION_ID,
      async handle(action) {
        if (action.actionId !== SHARE_ACTION_ID || !action.value) return undefined;
        const share = await store.get<Reply>(action.tenantId, action.value);
        if (!share || share.userId !== action.userId || share.platform !== action.platform) {
          return say("This answer can no longer be shared. Ask again to get a new one.");
        }
        if (share.sharedAt) return say("This answer was already shared.");
        if (!share.isDirect) {
          const hidden = await notVisibleToChannel(share);
          if (hidden.length > 0) {
            log.info(
              { tenantId: share.tenantId, channelId: share.channelId, hidden: hidden.length },
              "share refused: the answer cites documents the channel may not see",
            );
            const names = hidden.map((d) => `“${d.title}”`).join(", ");
            return say(
              `I didn't share this answer: it uses ${hidden.length === 1 ? "a document" : "documents"} ` +
                `not everyone in this channel may see (${names}). Mention me in the channel to get an ` +
                "answer from what everyone there can read.",
            );
          }
        }
        if (!(await store.claim(share.tenantId, share.shareId, action.userId))) {
          return say("This answer was already shared.");
        }
        const messenger = deps.messengers.get(share.platform as Platform);
        try {
          if (!messenger) throw new Error(`no messenger for ${share.platform}`);
          await messenger.send(
            { platform: share.platform as Platform, tenantId: share.tenantId, channelId: share.channelId },
            { ...share.reply, actions: [], visibility: "thread", sharedBy: action.userId },
          );
        } catch (err) {
          log.warn({ err, channelId: share.channelId }, "posting a shared answer failed");
          await store.release(share.tenantId, share.shareId);
          return say("I couldn't post in this channel. Invite me to the channel first, then try again.");
        }
        return makeReply({ intent: SHARED_INTENT, text: "Shared in the channel.", visibility: "ephemeral" });
      },
    },
  };

  /**
   * The cited documents the conversation's audience may not see: a channel's principals are those
   * of a reply everyone there sees ({@link principalsFor} with `visibility: "thread"`). A citation
   * that cannot be identified, or whose document is gone, counts as not visible.
   */
  async function notVisibleToChannel(share: {
    tenantId: string;
    platform: string;
    userId: string;
    cited: CitedDocument[];
  }): Promise<CitedDocument[]> {
    if (share.cited.length === 0) return [];
    const principals = principalsFor({
      platform: share.platform as Platform,
      userId: share.userId,
      isDirect: false,
      visibility: "thread",
    });
    const acls = await documentAcls(
      deps.db,
      share.tenantId,
      share.cited.filter((c) => c.source && c.docId),
    );
    return share.cited.filter((c) => {
      const acl = acls.get(`${c.source}\u0000${c.docId}`);
      return !acl?.some((p) => principals.includes(p));
    });
  }
}
