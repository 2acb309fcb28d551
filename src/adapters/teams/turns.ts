/**
 * The Teams side of the core's conversation pipeline ({@link ConversationAdapter}): what the worker
 * does with an activity the door accepted. It resolves the Entra tenant again (a refused tenant gets
 * the polite refusal and nothing else), stores the conversation reference, turns the activity into a
 * {@link ChatMessage}, and posts the replies in the right conversation — a channel thread keeps its
 * `;messageid=`, every post replies to the asker's activity. Installation activities store or
 * deactivate references here too.
 */
import { type Activity, TurnContext } from "botbuilder";
import type { ConversationAdapter, InboundAction, InboundTurn } from "../../core/conversation.ts";
import type { CumulativeStreamLimits, CumulativeStreamTransport } from "../../core/cumulative-stream.ts";
import type { ChatAction, ChatMessage, Reply, TenantResolver } from "../../core/ports.ts";
import { PermanentJobError } from "../../core/worker.ts";
import type { TeamsConversations, TeamsReference } from "../../db/teams.ts";
import type { Auditor } from "../../core/audit.ts";
import type { Logger } from "../../observability/logger.ts";
import { parseCardAction, replyActivity } from "./cards.ts";
import { statusOf } from "./errors.ts";
import {
  addressesBot,
  baseConversationId,
  cleanText,
  conversationType,
  filesOf,
  mentionsBot,
  teamsTenantId,
  threadConversationId,
  userTimeZone,
} from "./normalize.ts";
import { ConversationUnreachableError, isUnreachable, jobErrorOf, type TeamsConnector } from "./send.ts";
import { REFUSAL_TEXT } from "./tenants.ts";
import { isUpgradeRemoval } from "./uninstall.ts";

/**
 * Teams' documented streaming limits: about one request per second, informative updates of at
 * most 1 000 characters, and a message (each update carries the whole text) of at most about
 * 28 KB — streamed text stops well before, the final message carries the rest.
 */
export const TEAMS_STREAM_LIMITS: CumulativeStreamLimits = {
  minIntervalMs: 1000,
  maxInformativeChars: 1000,
  maxTextChars: 20_000,
};

/** What the door stores for the worker (the job payload of a Teams delivery). */
export interface TeamsInbound {
  /** The activity as received (shape checked at the door; no secrets in it). */
  activity: Activity;
  /**
   * Set at the door when the Entra tenant is not allowed: the activity was cut down to what a
   * refusal needs (no text, no files) and the worker only sends the refusal.
   */
  refused?: true;
}

/** Where and how to answer one accepted activity. */
export interface TeamsTurn {
  reference: TeamsReference;
  /** The conversation replies go to (a channel thread with `;messageid=`, or the chat). */
  conversationId: string;
  /** The activity replies answer. */
  replyToId: string;
  tenantId: string;
  /** The bare channel or chat id. */
  channelId: string;
  kind: ReturnType<typeof conversationType>;
}

/** Dependencies of the Teams conversation adapter. */
export interface TeamsTurnsDeps {
  resolver: TenantResolver;
  references: TeamsConversations;
  connector: TeamsConnector;
  logger: Logger;
  /** Records the bot being added to or removed from a conversation. */
  audit?: Auditor;
  /**
   * Called after a removal marked a conversation inactive; schedules the tenant's purge when that
   * was its last active conversation (uninstall.ts). Absent: removals never purge.
   */
  onRemoved?: (tenantId: string, removal: { activityId: string; via: string }) => Promise<boolean>;
  /** Largest file downloaded, bytes. */
  maxFileBytes: number;
  /** Fetch for file downloads (default global fetch). */
  fetch?: typeof fetch;
  /** How often the typing indicator repeats while Atom works, ms. */
  typingIntervalMs: number;
}

/**
 * Only what a refusal needs from an activity of a refused tenant: where to answer, never what was
 * said (no text, entities, attachments or values are kept).
 */
export function refusalOnly(a: Activity): Activity {
  return {
    type: a.type,
    id: a.id,
    serviceUrl: a.serviceUrl,
    channelId: a.channelId,
    replyToId: a.replyToId,
    conversation: {
      id: a.conversation.id,
      conversationType: a.conversation.conversationType,
      tenantId: a.conversation.tenantId,
      isGroup: a.conversation.isGroup,
    },
    from: { id: a.from.id },
    recipient: { id: a.recipient.id, name: a.recipient.name },
    channelData: a.channelData?.channel?.id ? { channel: { id: a.channelData.channel.id } } : undefined,
  } as Activity;
}

/** The reference replies to this activity use, with `conversationId` as its conversation. */
function referenceOf(a: Activity, conversationId: string): TeamsReference {
  const { activityId: _drop, ...ref } = TurnContext.getConversationReference(a);
  return { ...ref, conversation: { ...ref.conversation, id: conversationId } } as TeamsReference;
}

/** Builds the Teams {@link ConversationAdapter}. */
export function createTeamsTurns(deps: TeamsTurnsDeps): ConversationAdapter<TeamsInbound, TeamsTurn> {
  const { resolver, references, connector } = deps;
  const log = deps.logger.child({ adapter: "teams" });

  /** Posts into the turn's conversation; a 403/404 deactivates the conversation and gives up. */
  async function post(turn: TeamsTurn, activity: Partial<Activity>, what: string): Promise<string> {
    try {
      return await connector.post(turn.reference, turn.conversationId, activity, turn.replyToId);
    } catch (err) {
      if (isUnreachable(err)) {
        const status = statusOf(err) ?? 404;
        await references.markInactive(turn.tenantId, turn.channelId, `HTTP ${status}`);
        log.warn(
          { channelId: turn.channelId, status },
          "teams: conversation unreachable; reference marked inactive",
        );
        throw new ConversationUnreachableError(turn.conversationId, status);
      }
      throw jobErrorOf(err, what);
    }
  }

  /**
   * Posts of a streamed answer in a personal chat (Teams "Stream bot messages"): `typing`
   * activities with a `streaminfo` entity, then the final `message` naming the stream; sent to the
   * conversation (`POST v3/conversations/{id}/activities`) as Microsoft documents it.
   */
  function streamTransport(t: TeamsTurn): CumulativeStreamTransport {
    return {
      update: (u) => {
        const info = {
          streamType: u.kind,
          streamSequence: u.sequence,
          ...(u.streamId ? { streamId: u.streamId } : {}),
        };
        return connector.post(t.reference, t.conversationId, {
          type: "typing",
          text: u.text,
          // The fields go in the entity and in channelData too, as the Teams AI library sends them.
          channelData: info,
          entities: [{ type: "streaminfo", ...info }],
        });
      },
      final: async (reply, streamId) => {
        const activity = replyActivity(reply);
        const info = { streamId, streamType: "final" };
        const id = await connector.post(t.reference, t.conversationId, {
          ...activity,
          channelData: info,
          entities: [{ type: "streaminfo", ...info }, ...(activity.entities ?? [])],
        });
        if (reply.answerId)
          await references.recordSentAnswer(t.tenantId, t.conversationId, id || streamId, reply.answerId);
      },
      single: async (reply) => {
        const id = await post(t, replyActivity(reply), "posting the answer");
        if (reply.answerId && id)
          await references.recordSentAnswer(t.tenantId, t.conversationId, id, reply.answerId);
      },
    };
  }

  /** Where an activity is answered (malformed ones can never be). */
  function turnOf(a: Activity, tenantId: string): TeamsTurn {
    if (!a?.serviceUrl || !a.conversation?.id || !a.id || !a.from?.id || !a.recipient?.id) {
      throw new PermanentJobError(
        "teams: the stored activity lacks serviceUrl, conversation, id, from or recipient",
      );
    }
    let conversationId: string;
    try {
      conversationId =
        a.type === "message" || a.type === "invoke" ? threadConversationId(a) : a.conversation.id;
    } catch (err) {
      throw new PermanentJobError(`teams: ${(err as Error).message}`);
    }
    return {
      reference: referenceOf(a, conversationId),
      conversationId,
      replyToId: a.id,
      tenantId,
      channelId: baseConversationId(a.conversation.id),
      kind: conversationType(a),
    };
  }

  /** Sends the refusal to an activity of a tenant that is not allowed; stores nothing. */
  async function refuse(a: Activity, tid: string | undefined): Promise<{ ignored: string }> {
    const turn = turnOf(a, "refused");
    try {
      await connector.post(
        turn.reference,
        turn.conversationId,
        { type: "message", text: REFUSAL_TEXT },
        turn.replyToId,
      );
    } catch (err) {
      if (isUnreachable(err))
        return { ignored: `refusal for Entra tenant ${tid ?? "(none)"} not deliverable` };
      throw jobErrorOf(err, "sending the refusal");
    }
    log.info(
      { entraTenant: tid ?? null },
      "teams: refused an activity from an Entra tenant that is not allowed",
    );
    return { ignored: `Entra tenant ${tid ?? "(none)"} is not allowed` };
  }

  /**
   * Bot added: store the reference. Bot removed (`installationUpdate` remove, or the bot in
   * `membersRemoved`): mark the conversation inactive, and let `onRemoved` purge the tenant when it
   * was the last one. `remove-upgrade` (an app upgrade) changes nothing.
   */
  async function onInstall(
    a: Activity,
    tenantId: string,
    tid: string | undefined,
  ): Promise<{ ignored: string }> {
    const channelId = baseConversationId(a.conversation.id);
    if (a.type === "installationUpdate" && isUpgradeRemoval(a.action)) {
      log.info({ channelId }, "teams: app upgrade in a conversation (remove-upgrade); nothing removed");
      return { ignored: "app upgrade" };
    }
    const removed =
      (a.type === "installationUpdate" && String(a.action ?? "").startsWith("remove")) ||
      (a.membersRemoved ?? []).some((m) => m?.id === a.recipient.id);
    if (removed) {
      await references.markInactive(tenantId, channelId, "bot removed");
      log.info({ channelId }, "teams: bot removed from a conversation");
      await deps.audit?.({
        tenantId,
        actor: a.from?.aadObjectId ?? a.from?.id ?? "teams",
        action: "uninstall",
        platform: "teams",
        detail: { conversation: channelId, via: a.type },
      });
      const purging = await deps.onRemoved?.(tenantId, {
        activityId: String(a.id ?? channelId),
        via: a.type,
      });
      return { ignored: purging ? "bot removed from the last conversation; purge scheduled" : "bot removed" };
    }
    const turn = turnOf(a, tenantId);
    if (a.type === "installationUpdate") {
      await deps.audit?.({
        tenantId,
        actor: a.from?.aadObjectId ?? a.from?.id ?? "teams",
        action: "install",
        platform: "teams",
        detail: { conversation: channelId, kind: turn.kind },
      });
    }
    await references.save({
      tenantId,
      conversationId: a.conversation.id,
      channelId,
      teamsTenantId: tid,
      conversationType: turn.kind,
      userId: turn.kind === "personal" ? (a.from.aadObjectId ?? a.from.id) : undefined,
      reference: turn.reference,
    });
    return { ignored: "installation stored" };
  }

  return {
    platform: "teams",

    async toTurn(body) {
      const a = body?.activity;
      if (!a || typeof a !== "object") throw new PermanentJobError("teams: the job holds no activity");
      const tid = teamsTenantId(a);
      const tenantId = body.refused ? undefined : resolver.resolve(tid);
      if (!tenantId) {
        // Refused at the door (cut down, addressed), or refused now after a settings change.
        if (body.refused || (a.type === "message" && addressesBot(a))) return refuse(a, tid);
        return { ignored: `Entra tenant ${tid ?? "(none)"} is not allowed` };
      }
      if (a.type === "conversationUpdate" || a.type === "installationUpdate")
        return onInstall(a, tenantId, tid);
      if (a.type !== "message") return { ignored: `activity type ${a.type}` };
      const turn = turnOf(a, tenantId);
      const userId = a.from.aadObjectId ?? a.from.id;
      await references.save({
        tenantId,
        conversationId: turn.conversationId,
        channelId: turn.channelId,
        teamsTenantId: tid,
        conversationType: turn.kind,
        userId: turn.kind === "personal" ? userId : undefined,
        reference: turn.reference,
      });
      const text = cleanText(a.text, a.entities, a.recipient.id);
      const files = filesOf(a.attachments, { maxBytes: deps.maxFileBytes, fetch: deps.fetch });
      if (!text && files.length === 0) {
        // An empty message addressed to Atom (a bare @mention, an empty 1:1 message) goes to the
        // core, which answers it with the help, as Slack does; anything else empty (a card submit,
        // an empty post in a thread Atom is in) is not answered.
        const addressed = turn.kind === "personal" || mentionsBot(a);
        if (!addressed || a.value !== undefined) return { ignored: "a message without text or files" };
      }
      const message: ChatMessage = {
        platform: "teams",
        tenantId,
        channelId: turn.channelId,
        threadId: turn.conversationId,
        messageId: turn.replyToId,
        userId,
        userEmail:
          turn.kind === "personal"
            ? await connector.memberEmail(turn.reference, a.conversation.id, a.from.id)
            : undefined,
        userTimeZone: userTimeZone(a),
        text,
        files,
        isDirect: turn.kind === "personal",
        mentionsBot: mentionsBot(a),
        visibility: "thread",
      };
      return { message, context: turn };
    },

    async send(turn: InboundTurn<TeamsTurn>, reply: Reply) {
      const t = turn.context;
      const id = await post(t, replyActivity(reply), "posting the answer");
      if (reply.answerId && id)
        await references.recordSentAnswer(t.tenantId, t.conversationId, id, reply.answerId);
    },

    cumulativeStream: {
      where: "direct",
      limits: TEAMS_STREAM_LIMITS,
      transport: (turn) => streamTransport(turn.context),
    },

    async working(turn) {
      const t = turn.context;
      return connector.typing(t.reference, t.conversationId, t.replyToId, deps.typingIntervalMs);
    },

    async toAction(body) {
      const a = body?.activity;
      if (!a || typeof a !== "object") throw new PermanentJobError("teams: the job holds no activity");
      const tid = teamsTenantId(a);
      const tenantId = body.refused ? undefined : resolver.resolve(tid);
      if (!tenantId) return { ignored: `Entra tenant ${tid ?? "(none)"} is not allowed` };
      const data = parseCardAction(a.value);
      if (!data) return { ignored: "not an Atom button" };
      const turn = turnOf(a, tenantId);
      // A button press answers the message that carried the button.
      if (a.replyToId) turn.replyToId = a.replyToId;
      const action: ChatAction = {
        platform: "teams",
        tenantId,
        channelId: turn.channelId,
        threadId: turn.conversationId,
        userId: a.from.aadObjectId ?? a.from.id,
        actionId: data.atomAction,
        value: data.value || data.answerId || "",
        isDirect: turn.kind === "personal",
      };
      return { action, context: turn } satisfies InboundAction<TeamsTurn>;
    },

    async answerAction(action, reply) {
      const t = action.context;
      if (reply.visibility === "ephemeral" && t.kind !== "personal") {
        // Teams has no message only the presser sees outside the invoke response.
        log.info(
          { actionId: action.action.actionId },
          "teams: a private button reply is not posted in a shared conversation",
        );
        return;
      }
      await post(t, replyActivity(reply), "answering a button");
    },
  };
}
