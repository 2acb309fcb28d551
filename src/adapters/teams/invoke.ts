/**
 * Invoke activities Teams waits on for a synchronous answer (the HTTP response is the invoke
 * response):
 * - `adaptiveCard/action` (an `Action.Execute` button on Atom's card): 👍/👎 are recorded in the
 *   request — the feedback row is written before the response, and a repeated press or a redelivery
 *   finds the first rating (`ON CONFLICT DO NOTHING`), so the press is durable and idempotent. Any
 *   other Atom button is accepted as a durable job (keyed by the invoke's id) and answered in the
 *   conversation by the worker.
 * - `message/submitAction` (Teams' built-in feedback buttons on an AI message): the rated message
 *   is mapped to its answer and recorded the same way.
 * A refused Entra tenant's press is answered with the refusal and touches nothing.
 * Universal Actions: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/overview
 * Feedback buttons: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/bot-messages-ai-generated-content#feedback-buttons
 */
import type { Activity } from "botbuilder";
import type { Bot } from "../../bot/types.ts";
import type { Conversations } from "../../core/conversation.ts";
import type { ChatAction, TenantResolver } from "../../core/ports.ts";
import type { TeamsConversations } from "../../db/teams.ts";
import type { Logger } from "../../observability/logger.ts";
import { parseCardAction } from "./cards.ts";
import { baseConversationId, conversationType, teamsTenantId } from "./normalize.ts";
import { REFUSAL_TEXT } from "./tenants.ts";
import type { TeamsInbound } from "./turns.ts";

/** An invoke response: HTTP status and JSON body (none when undefined). */
export interface InvokeAnswer {
  status: number;
  body?: unknown;
}

/** Dependencies of {@link answerInvoke}. */
export interface InvokeDeps {
  bot: Bot;
  conversations: Conversations;
  resolver: TenantResolver;
  references: TeamsConversations;
  logger: Logger;
}

/** The Adaptive Card invoke response that shows `text` on the card. */
function cardMessage(text: string): InvokeAnswer {
  return {
    status: 200,
    body: { statusCode: 200, type: "application/vnd.microsoft.activity.message", value: text },
  };
}

/** Feedback actions are answered in the request; everything else waits for the worker. */
const FEEDBACK = new Set(["feedback_up", "feedback_down"]);

/**
 * Answers one authenticated invoke activity.
 * @throws when accepting a queued button press fails (the route answers 500: Teams shows an error
 *   and the person can press again; nothing was half-done).
 */
export async function answerInvoke(a: Activity, deps: InvokeDeps): Promise<InvokeAnswer> {
  const tid = teamsTenantId(a);
  const tenantId = deps.resolver.resolve(tid);
  const kind = conversationType(a);
  const userId = a.from.aadObjectId ?? a.from.id;
  if (a.name === "adaptiveCard/action") {
    const data = parseCardAction(a.value);
    if (!data) {
      return {
        status: 200,
        body: {
          statusCode: 400,
          type: "application/vnd.microsoft.error",
          value: { code: "BadRequest", message: "unknown card action" },
        },
      };
    }
    if (!tenantId) return cardMessage(REFUSAL_TEXT);
    if (!FEEDBACK.has(data.atomAction)) {
      const envelope = {
        platform: "teams" as const,
        kind: "action" as const,
        body: { activity: a } satisfies TeamsInbound,
      };
      await deps.conversations.accept(envelope, {
        workspace: tid ?? "none",
        key: `${a.conversation.id}:${a.id}`,
      });
      return cardMessage("Got it — I'll answer in this conversation.");
    }
    const action: ChatAction = {
      platform: "teams",
      tenantId,
      channelId: baseConversationId(a.conversation.id),
      threadId: a.conversation.id,
      userId,
      actionId: data.atomAction,
      value: data.answerId ?? data.value,
      isDirect: kind === "personal",
    };
    const reply = await deps.bot.handleAction(action);
    return cardMessage(reply?.text ?? "This answer can no longer be rated.");
  }
  if (a.name === "message/submitAction") {
    // value: {actionName: "feedback", actionValue: {reaction: "like" | "dislike", feedback: "<json>"}}
    const v = (a.value ?? {}) as { actionName?: unknown; actionValue?: { reaction?: unknown } | null };
    const reaction = v.actionValue?.reaction;
    if (
      !tenantId ||
      v.actionName !== "feedback" ||
      (reaction !== "like" && reaction !== "dislike") ||
      !a.replyToId
    )
      return { status: 200 };
    const answerId = await deps.references.answerOfMessage(tenantId, a.conversation.id, a.replyToId);
    if (!answerId) return { status: 200 };
    const reply = await deps.bot.handleAction({
      platform: "teams",
      tenantId,
      channelId: baseConversationId(a.conversation.id),
      threadId: a.conversation.id,
      userId,
      actionId: reaction === "like" ? "feedback_up" : "feedback_down",
      value: answerId,
      isDirect: kind === "personal",
    });
    if (reply?.intent === "error")
      deps.logger.warn({ answerId }, "teams: recording built-in feedback failed");
    return { status: 200 };
  }
  deps.logger.debug({ name: String(a.name ?? "").slice(0, 100) }, "teams: invoke Atom does not handle");
  return { status: 200 };
}
