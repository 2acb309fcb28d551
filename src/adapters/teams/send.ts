/**
 * Outbound calls to the Bot Connector (the activity's `serviceUrl`) from a conversation reference:
 * replies, typing indicators, member lookups and new conversations. Each call runs through
 * botbuilder's `CloudAdapter.continueConversationAsync`, which builds a `ConnectorClient` whose
 * requests carry the bot's token (local mode: none) — so any worker of any replica can answer from
 * a stored reference, after a restart too.
 * Bot Framework REST: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 */
import type { Activity, CloudAdapter, ConversationParameters, ConversationReference } from "botbuilder";
import type { ConnectorClient } from "botframework-connector";
import { PermanentJobError, RetryJobError } from "../../core/worker.ts";
import type { TeamsReference } from "../../db/teams.ts";
import type { Logger } from "../../observability/logger.ts";
import { describeError, statusOf } from "./errors.ts";
import { keepEntityFields } from "./entity-fields.ts";
import type { TeamsHealth } from "./health.ts";

/** Raised when Teams no longer accepts messages for a conversation (403/404): a job gives up on it. */
export class ConversationUnreachableError extends PermanentJobError {
  constructor(
    readonly conversationId: string,
    readonly status: number,
  ) {
    super(
      `Teams conversation ${conversationId} is not reachable (HTTP ${status}); its reference is marked inactive`,
    );
    this.name = "ConversationUnreachableError";
  }
}

/** Whether a connector error means the conversation is gone for the bot (removed, deleted). */
export function isUnreachable(err: unknown): boolean {
  const s = statusOf(err);
  return s === 403 || s === 404;
}

/**
 * Turns a connector error into the job error the worker understands: 400 → permanent (the same
 * request fails again), 429 → retry after `Retry-After` (default 5 s), anything else → retried with
 * backoff. The message is secret-free. (403/404 are handled by the caller: see {@link isUnreachable}.)
 */
export function jobErrorOf(err: unknown, what: string): Error {
  const status = statusOf(err);
  const text = `${what} failed: ${describeError(err)}`;
  if (status === 400) return new PermanentJobError(text);
  if (status === 429) {
    const header = (err as { response?: { headers?: { get?(n: string): string | undefined } } })?.response
      ?.headers;
    const seconds = Number(header?.get?.("retry-after") ?? "5");
    return new RetryJobError(text, Math.min(300, Number.isFinite(seconds) ? seconds : 5) * 1000);
  }
  return new Error(text);
}

/**
 * Sends to the Bot Connector on behalf of the bot. Entities keep all their fields on the wire
 * (citations, the AI label, stream info: see entity-fields.ts).
 */
export class TeamsConnector {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly appId: string,
    private readonly health: TeamsHealth,
    private readonly log: Logger,
  ) {
    keepEntityFields();
  }

  /**
   * Runs `fn` with a connector client for the reference's serviceUrl.
   * @throws whatever `fn` or building the client throws (e.g. the token request failing).
   */
  async withClient<T>(ref: TeamsReference, fn: (client: ConnectorClient) => Promise<T>): Promise<T> {
    let out: { value: T } | undefined;
    let failure: { err: unknown } | undefined;
    await this.adapter.continueConversationAsync(
      this.appId,
      ref as Partial<ConversationReference>,
      async (ctx) => {
        const client = ctx.turnState.get(this.adapter.ConnectorClientKey) as ConnectorClient;
        try {
          out = { value: await fn(client) };
        } catch (err) {
          failure = { err };
        }
      },
    );
    if (failure) throw failure.err;
    if (!out) throw new Error("teams: the proactive turn did not run");
    return out.value;
  }

  /**
   * Posts an activity into `conversationId` (a reply to `replyToId` when given).
   * @returns the id Teams gave the posted activity ("" when it gave none).
   * @throws the connector's error (see {@link jobErrorOf}, {@link isUnreachable}).
   */
  async post(
    ref: TeamsReference,
    conversationId: string,
    activity: Partial<Activity>,
    replyToId?: string,
  ): Promise<string> {
    try {
      const id = await this.withClient(ref, async (client) => {
        const full = {
          ...activity,
          channelId: ref.channelId ?? "msteams",
          serviceUrl: ref.serviceUrl,
          from: ref.bot,
          recipient: ref.user,
          conversation: { ...(ref.conversation ?? {}), id: conversationId },
          ...(replyToId ? { replyToId } : {}),
        } as unknown as Activity;
        const res = replyToId
          ? await client.conversations.replyToActivity(conversationId, replyToId, full)
          : await client.conversations.sendToConversation(conversationId, full);
        return res?.id ?? "";
      });
      this.health.sent();
      return id;
    } catch (err) {
      this.health.failed(err);
      throw err;
    }
  }

  /**
   * Creates a conversation (a new channel thread, a 1:1 chat) with a first activity.
   * @returns the new conversation id and the first activity's id.
   */
  async create(
    ref: TeamsReference,
    params: ConversationParameters,
  ): Promise<{ conversationId: string; activityId: string }> {
    try {
      const created = await this.withClient(ref, (client) => client.conversations.createConversation(params));
      this.health.sent();
      return { conversationId: created.id ?? "", activityId: created.activityId ?? "" };
    } catch (err) {
      this.health.failed(err);
      throw err;
    }
  }

  /**
   * The asker's e-mail (or UPN), lower-case, from the member lookup TeamsInfo.getMember makes
   * (`GET v3/conversations/{id}/members/{memberId}`); undefined when unavailable (logged).
   */
  async memberEmail(
    ref: TeamsReference,
    conversationId: string,
    memberId: string,
  ): Promise<string | undefined> {
    try {
      const m = (await this.withClient(ref, (client) =>
        client.conversations.getConversationMember(conversationId, memberId),
      )) as { email?: string; userPrincipalName?: string };
      const email = m.email ?? m.userPrincipalName;
      return email ? email.toLowerCase() : undefined;
    } catch (err) {
      this.log.warn(
        { error: describeError(err) },
        "teams: member lookup failed; answering with shared documents only",
      );
      return undefined;
    }
  }

  /**
   * Shows "typing…" in a conversation now and every `everyMs` until the returned function is
   * called; that function waits for the typing posts still in flight. Failures are logged only.
   */
  typing(
    ref: TeamsReference,
    conversationId: string,
    replyToId: string,
    everyMs: number,
  ): () => Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const once = () => {
      const p = this.post(ref, conversationId, { type: "typing" }, replyToId).then(
        () => undefined,
        (err: unknown) => this.log.debug({ error: describeError(err) }, "teams: typing indicator failed"),
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    once();
    const timer = setInterval(once, everyMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
    };
  }
}
