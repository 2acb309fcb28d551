/**
 * Proactive Teams messages (the core's {@link Messenger} port: workflows, sync reports) from stored
 * conversation references — no inbound message needed, any replica, after a restart too.
 * - `channelId` (+ `threadId`): that chat, or that channel thread; a channel without a thread gets
 *   a new post (a new conversation in the channel), never a post to the bare channel id;
 * - only `userId`: the person's personal chat with Atom, created when Atom has none yet.
 * A reference is only used for the Atom tenant its Entra tenant maps to today, so a reference stored
 * under an older, wider configuration is not used to post into another organisation.
 * Proactive messaging: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages
 */
import type { Activity, ConversationParameters } from "botbuilder";
import type { ConversationTarget, Messenger, Reply, TenantResolver } from "../../core/ports.ts";
import type { StoredReference, TeamsConversations } from "../../db/teams.ts";
import type { Logger } from "../../observability/logger.ts";
import { replyActivity } from "./cards.ts";
import { statusOf } from "./errors.ts";
import { ConversationUnreachableError, isUnreachable, jobErrorOf, type TeamsConnector } from "./send.ts";

/** Dependencies of the Teams messenger. */
export interface TeamsMessengerDeps {
  references: TeamsConversations;
  connector: TeamsConnector;
  resolver: TenantResolver;
  logger: Logger;
}

/** Creates the Teams {@link Messenger}. */
export function createTeamsMessenger(deps: TeamsMessengerDeps): Messenger {
  const { references, connector, resolver } = deps;
  const log = deps.logger.child({ adapter: "teams" });

  /** The stored reference a target names, checked to belong to the target's tenant. */
  async function referenceFor(target: ConversationTarget): Promise<StoredReference | null> {
    if (target.channelId) {
      return target.threadId
        ? ((await references.get(target.tenantId, target.threadId)) ??
            (await references.latestInChannel(target.tenantId, target.channelId)))
        : references.latestInChannel(target.tenantId, target.channelId);
    }
    if (target.userId) return references.personalChatOf(target.tenantId, target.userId);
    throw new Error("a Teams message needs a conversation (channelId) or a person (userId)");
  }

  function checkTenant(stored: StoredReference, tenantId: string): void {
    if (resolver.resolve(stored.teamsTenantId ?? undefined) !== tenantId) {
      throw new Error(
        `the Teams conversation ${stored.channelId} belongs to an organisation that is not part of this tenant`,
      );
    }
  }

  /** Starts a personal chat with `userId` from any reference of the tenant (its serviceUrl and bot). */
  async function startPersonalChat(target: ConversationTarget, activity: Partial<Activity>) {
    const any = await references.anyActive(target.tenantId);
    if (!any?.teamsTenantId)
      throw new Error(`no Teams conversation of tenant ${target.tenantId} to start a chat from`);
    checkTenant(any, target.tenantId);
    const ref = any.reference;
    const created = await connector.create(ref, {
      isGroup: false,
      bot: ref.bot,
      members: [{ id: target.userId }],
      tenantId: any.teamsTenantId,
      channelData: { tenant: { id: any.teamsTenantId } },
      activity: { ...activity, from: ref.bot },
    } as unknown as ConversationParameters);
    await references.save({
      tenantId: target.tenantId,
      conversationId: created.conversationId,
      channelId: created.conversationId,
      teamsTenantId: any.teamsTenantId,
      conversationType: "personal",
      userId: target.userId,
      reference: {
        ...ref,
        user: { id: target.userId as string },
        conversation: {
          id: created.conversationId,
          conversationType: "personal",
          tenantId: any.teamsTenantId,
        },
      },
    });
    return { conversationId: created.conversationId, id: created.activityId };
  }

  async function deliver(
    target: ConversationTarget,
    reply: Reply,
  ): Promise<{ conversationId: string; id: string }> {
    const activity = replyActivity(reply);
    const stored = await referenceFor(target);
    if (!stored && !target.channelId && target.userId) return startPersonalChat(target, activity);
    if (!stored)
      throw new Error(
        `no Teams conversation reference for ${target.threadId ?? target.channelId ?? target.userId}`,
      );
    if (!stored.active) {
      throw new Error(
        `Teams conversation ${stored.channelId} is inactive (${stored.inactiveReason ?? "unreachable"})`,
      );
    }
    checkTenant(stored, target.tenantId);
    const ref = stored.reference;
    try {
      // A thread of this channel: the stored one, or another thread of the same channel/chat.
      const threadId =
        target.threadId &&
        (stored.conversationId === target.threadId ||
          target.threadId.toLowerCase().startsWith(`${stored.channelId.toLowerCase()};messageid=`))
          ? target.threadId
          : undefined;
      if (stored.conversationType === "channel" && !threadId) {
        const created = await connector.create(ref, {
          isGroup: true,
          bot: ref.bot,
          channelData: {
            channel: { id: stored.channelId },
            ...(stored.teamsTenantId ? { tenant: { id: stored.teamsTenantId } } : {}),
          },
          tenantId: stored.teamsTenantId ?? undefined,
          activity: { ...activity, from: ref.bot },
        } as unknown as ConversationParameters);
        return { conversationId: created.conversationId, id: created.activityId };
      }
      const conversationId = threadId ?? stored.conversationId;
      return { conversationId, id: await connector.post(ref, conversationId, activity) };
    } catch (err) {
      if (isUnreachable(err)) {
        const status = statusOf(err) ?? 404;
        await references.markInactive(stored.tenantId, stored.channelId, `HTTP ${status}`);
        log.warn(
          { channelId: stored.channelId, status },
          "teams: conversation unreachable; reference marked inactive",
        );
        throw new ConversationUnreachableError(stored.conversationId, status);
      }
      throw jobErrorOf(err, "sending to Teams");
    }
  }

  return {
    platform: "teams",
    async send(target: ConversationTarget, reply: Reply) {
      const out = await deliver(target, reply);
      if (reply.answerId && out.id)
        await references.recordSentAnswer(target.tenantId, out.conversationId, out.id, reply.answerId);
      return { messageId: out.id };
    },
  };
}
