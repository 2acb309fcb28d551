/**
 * Atom in Microsoft Teams: botbuilder's `CloudAdapter` (with `ConfigurationBotFrameworkAuthentication`)
 * behind Hono at `POST /api/messages`, answering in the right chat or channel thread with Adaptive
 * Cards, storing conversation references for proactive sends, and recording card feedback.
 *
 * Flow (DESIGN.md, "ack fast, work after"): the adapter checks the activity's shape (and, without an app
 * id, that its serviceUrl is on loopback), verifies the Bot Framework JWT, stores the
 * conversation reference, claims the activity in Postgres (duplicates stop here) and returns 200 —
 * before any search or outbound call. Then, in the background, it sends a typing indicator (repeated
 * while working), produces the answer and posts it with `replyToActivity` into the same
 * conversation (a channel thread keeps `;messageid=`).
 * Bot Framework REST: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import {
  type Activity,
  ActivityTypes,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConversationReference,
  type InvokeResponse,
  TurnContext,
} from "botbuilder";
// botframework-connector is botbuilder's own (exactly pinned) dependency: its auth types and constants.
import {
  type AuthenticateRequestResult,
  AuthenticationConstants,
  AuthenticationError,
  type ConnectorClient,
} from "botframework-connector";
import type { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Bot, FeedbackInput } from "../../bot/types.ts";
import type { Reply } from "../../bot/reply.ts";
import { makeReply } from "../../bot/reply.ts";
import type { Config } from "../../config.ts";
import { claimEvent, completeEvent } from "../../db/events.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import { webhookAckSeconds } from "../../observability/metrics.ts";
import type { RouteMounter } from "../../server/app.ts";
import type { ChatMessage, ConversationTarget, Messenger } from "../types.ts";
import { checkActivityShape, isLoopbackAddress, loopbackServiceUrl } from "./activity.ts";
import { parseCardAction, replyActivity } from "./cards.ts";
import {
  atomTenantFor,
  baseConversationId,
  cleanText,
  conversationType,
  filesOf,
  mentionsBot,
  teamsTenantId,
  threadConversationId,
} from "./normalize.ts";
import { ConversationReferences } from "./references.ts";

/** Dependencies of the Teams adapter. */
export interface TeamsAdapterDeps {
  config: Config;
  db: Db;
  bot: Bot;
  logger: Logger;
  /** Fetch used for attachment downloads (default: global fetch). */
  fetch?: typeof fetch;
  /** How often the typing indicator is repeated while an answer is being produced (ms, default 3000). */
  typingIntervalMs?: number;
  /**
   * Where the signing keys of inbound Bot Framework tokens are published, for clouds other than
   * the public one (and for loopback tests). Default: the public Bot Framework OpenID metadata.
   */
  channelAuth?: { openIdMetadataUrl: string; tokenIssuer?: string };
}

/** The Teams surface of Atom. */
export interface TeamsAdapter {
  /** Mounts `POST /api/messages`. */
  routes: RouteMounter;
  /** Proactive sends from stored conversation references. */
  messenger: Messenger;
  /** The botbuilder adapter (for tests and tools). */
  adapter: CloudAdapter;
  /** Conversation reference storage. */
  references: ConversationReferences;
  /** Whether inbound activities must carry a valid Bot Framework JWT (an app id is configured). */
  authenticated: boolean;
  /** Resolves when every answer in progress has been posted. */
  idle(): Promise<void>;
  /** Waits for answers in progress, then stops accepting work. */
  close(): Promise<void>;
}

/**
 * `CloudAdapter` whose turn entry point takes an already authenticated request, so the HTTP route
 * can answer 401 itself (and log without the token) before any turn starts.
 */
class AtomCloudAdapter extends CloudAdapter {
  /** Runs one authenticated activity through the bot pipeline; returns the invoke response, if any. */
  run(auth: AuthenticateRequestResult, activity: Activity, logic: (context: TurnContext) => Promise<void>) {
    return this.processActivity(auth, activity, logic);
  }
}

/** Raised by the Messenger when Teams no longer accepts messages for a conversation (403/404). */
export class ConversationUnreachableError extends Error {
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

/** Largest accepted activity body (Teams messages are at most ~100 KB including cards). */
const MAX_ACTIVITY_BYTES = 1024 * 1024;

/** HTTP status of a connector error (`RestError.statusCode`), if any. */
function statusOf(err: unknown): number | undefined {
  const s =
    (err as { statusCode?: unknown; status?: unknown })?.statusCode ?? (err as { status?: unknown })?.status;
  return typeof s === "number" ? s : undefined;
}

/**
 * Whether an error from token validation means "this request is not authenticated" (401) rather
 * than "validation could not run" (e.g. the signing keys could not be fetched).
 */
function isAuthRejection(err: unknown): boolean {
  if (err instanceof AuthenticationError) return statusOf(err) === undefined || statusOf(err) === 401;
  const name = (err as { name?: unknown })?.name;
  return name === "JsonWebTokenError" || name === "TokenExpiredError" || name === "NotBeforeError";
}

/** A short, secret-free description of an error for logs. */
function describe(err: unknown): string {
  const status = statusOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  return `${status ? `HTTP ${status}: ` : ""}${msg.replace(/Bearer\s+\S+/gi, "Bearer [redacted]").slice(0, 300)}`;
}

/**
 * Creates the Teams adapter from config. With `MICROSOFT_APP_ID` set, every activity must carry a
 * valid Bot Framework JWT (else 401, nothing stored, no outbound call). Without it, activities are
 * accepted unauthenticated from loopback only (emulator / local development), and only when their
 * `serviceUrl` is on loopback too (else 400 before any outbound call); a warning says so at start.
 * In both modes an activity whose shape does not match `inboundActivitySchema` gets 400.
 * @throws Error when the app type needs settings that are missing (e.g. SingleTenant without tenant id).
 */
export function createTeamsAdapter(deps: TeamsAdapterDeps): TeamsAdapter {
  const { config, db, bot, logger } = deps;
  const log = logger.child({ adapter: "teams" });
  const env = config.env;
  const appId = env.MICROSOFT_APP_ID ?? "";
  const authenticated = appId.length > 0;
  const localModeWarning =
    "MICROSOFT_APP_ID is not set: Teams activities at POST /api/messages are accepted WITHOUT authentication, " +
    "only from loopback (127.0.0.1 / ::1), and answered only at a loopback serviceUrl. Set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD before connecting Atom to Teams.";
  // Said loudly when the adapter starts (adapters are created by `atom serve` only).
  if (!authenticated) log.warn(localModeWarning);
  if (authenticated && env.MICROSOFT_APP_TYPE === "SingleTenant" && !env.MICROSOFT_APP_TENANT_ID) {
    throw new Error("MICROSOFT_APP_TENANT_ID is required when MICROSOFT_APP_TYPE is SingleTenant");
  }
  if (authenticated && env.MICROSOFT_APP_TYPE !== "UserAssignedMSI" && !env.MICROSOFT_APP_PASSWORD) {
    throw new Error(
      `MICROSOFT_APP_PASSWORD is required when MICROSOFT_APP_TYPE is ${env.MICROSOFT_APP_TYPE}`,
    );
  }
  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: appId,
    MicrosoftAppPassword: env.MICROSOFT_APP_PASSWORD ?? "",
    MicrosoftAppType: authenticated ? env.MICROSOFT_APP_TYPE : "MultiTenant",
    MicrosoftAppTenantId: env.MICROSOFT_APP_TENANT_ID ?? "",
    ...(deps.channelAuth
      ? {
          // Setting any endpoint makes botbuilder expect all of them: the public cloud's, except the override.
          ToBotFromChannelOpenIdMetadataUrl: deps.channelAuth.openIdMetadataUrl,
          ToBotFromChannelTokenIssuer:
            deps.channelAuth.tokenIssuer ?? AuthenticationConstants.ToBotFromChannelTokenIssuer,
          ToChannelFromBotLoginUrl: AuthenticationConstants.ToChannelFromBotLoginUrl,
          ToChannelFromBotOAuthScope: AuthenticationConstants.ToChannelFromBotOAuthScope,
          OAuthUrl: AuthenticationConstants.OAuthUrl,
          ToBotFromEmulatorOpenIdMetadataUrl: AuthenticationConstants.ToBotFromEmulatorOpenIdMetadataUrl,
          CallerId: "urn:botframework:azure",
          ValidateAuthority: true,
        }
      : {}),
  });
  const adapter = new AtomCloudAdapter(auth);
  adapter.onTurnError = async (_context, err) => {
    log.error({ error: describe(err) }, "teams turn failed");
  };
  const references = new ConversationReferences(db);
  bot.addStatusContributor(async (tenantId) => {
    const r = await db.query<{ active: number; inactive: number }>(
      `SELECT count(*) FILTER (WHERE active)::int AS active, count(*) FILTER (WHERE NOT active)::int AS inactive
       FROM teams_conversations WHERE tenant_id = $1`,
      [tenantId],
    );
    const row = r.rows[0] ?? { active: 0, inactive: 0 };
    // The env-configured bot serves the default tenant; other tenants only hear about Teams if they use it.
    if (tenantId !== atomTenantFor(undefined) && row.active + row.inactive === 0) return [];
    const mode = authenticated
      ? `Teams: connected as bot app ${appId.slice(0, 8)}… (${env.MICROSOFT_APP_TYPE})`
      : "Teams: local mode without MICROSOFT_APP_ID (unauthenticated, loopback only)";
    return [`${mode}; ${row.active} conversation(s) reachable, ${row.inactive} inactive`];
  });
  const typingIntervalMs = deps.typingIntervalMs ?? 3000;
  const inflight = new Set<Promise<void>>();
  let closed = false;

  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  /** Posts an activity with the connector client, into `conversationId`, replying to `replyToId` when set. */
  async function post(
    client: ConnectorClient,
    ref: Partial<ConversationReference>,
    conversationId: string,
    activity: Partial<Activity>,
    replyToId?: string,
  ): Promise<string> {
    const full = {
      ...activity,
      channelId: ref.channelId ?? "msteams",
      serviceUrl: ref.serviceUrl,
      from: ref.bot,
      recipient: ref.user,
      conversation: { ...(ref.conversation ?? {}), id: conversationId },
      ...(replyToId ? { replyToId } : {}),
    } as Activity;
    const res = replyToId
      ? await client.conversations.replyToActivity(conversationId, replyToId, full)
      : await client.conversations.sendToConversation(conversationId, full);
    return res?.id ?? "";
  }

  // ---------- inbound ----------

  async function onTurn(context: TurnContext): Promise<void> {
    const a = context.activity;
    const tenantTeams = teamsTenantId(a);
    const tenantId = atomTenantFor(tenantTeams);
    const convId = a.conversation?.id;
    if (!convId || !a.serviceUrl) return;
    const kind = conversationType(a);
    const channelId = baseConversationId(convId);

    const removed =
      (a.type === ActivityTypes.InstallationUpdate && String(a.action ?? "").startsWith("remove")) ||
      (a.type === ActivityTypes.ConversationUpdate &&
        (a.membersRemoved ?? []).some((m) => m.id === a.recipient?.id));
    if (removed) {
      await references.markInactive(tenantId, channelId, "bot removed");
      log.info({ channelId }, "teams: bot removed from conversation");
      return;
    }

    const conversationId = a.type === ActivityTypes.Message ? threadConversationId(a) : convId;
    await references.save({
      tenantId,
      conversationId,
      channelId,
      teamsTenantId: tenantTeams,
      conversationType: kind,
      reference: TurnContext.getConversationReference(a),
    });

    if (a.type === ActivityTypes.Invoke) return onInvoke(context, tenantId);
    if (a.type !== ActivityTypes.Message) return;
    const action = parseCardAction(a.value);
    if (action) {
      await onCardAction(context, tenantId, action.atomAction, action.answerId, action.value);
      return;
    }
    await onMessage(context, tenantId, conversationId, channelId, kind);
  }

  async function onMessage(
    context: TurnContext,
    tenantId: string,
    threadId: string,
    channelId: string,
    kind: ReturnType<typeof conversationType>,
  ): Promise<void> {
    const a = context.activity;
    const text = cleanText(a.text, a.entities, a.recipient?.id);
    const files = filesOf(a.attachments, { maxBytes: env.VOICE_MAX_BYTES, fetch: deps.fetch });
    if (!text && files.length === 0) return;
    const msg: ChatMessage = {
      platform: "teams",
      tenantId,
      channelId,
      threadId,
      messageId: a.id ?? "",
      userId: a.from?.aadObjectId ?? a.from?.id ?? "",
      text,
      files,
      isDirect: kind === "personal",
      mentionsBot: mentionsBot(a),
      visibility: "thread",
    };
    if (!msg.isDirect && !msg.mentionsBot) {
      const participating = await bot.isInThread({ tenantId, platform: "teams", channelId, threadId });
      if (!participating) return;
    }
    const identity = { platform: "teams", tenantId, key: `${a.conversation.id}:${a.id ?? ""}` };
    if (!(await claimEvent(db, identity))) {
      log.debug({ key: identity.key }, "teams: duplicate activity ignored");
      return;
    }
    if (closed) return;
    const client = context.turnState.get(adapter.ConnectorClientKey) as ConnectorClient;
    const ref = TurnContext.getConversationReference(a);
    const replyToId = a.id;
    const sendTyping = () => post(client, ref, threadId, { type: ActivityTypes.Typing }, replyToId);
    const fromId = a.from?.id;
    // The HTTP ack goes out now; the typing indicator (the first response Teams sees, well within
    // its 15 s) and the answer follow from here.
    track(
      (async () => {
        try {
          await sendTyping();
        } catch (err) {
          log.warn({ error: describe(err) }, "teams: typing indicator failed");
        }
        const timer = setInterval(() => {
          sendTyping().catch(() => undefined);
        }, typingIntervalMs);
        timer.unref();
        const send = async (reply: Reply) => {
          const id = await post(client, ref, threadId, replyActivity(reply), replyToId);
          if (reply.answerId && id) await references.recordSentAnswer(tenantId, threadId, id, reply.answerId);
        };
        try {
          if (msg.isDirect && fromId) msg.userEmail = await memberEmail(client, a.conversation.id, fromId);
          const reply = await bot.handle(msg, { progress: send });
          clearInterval(timer);
          await send(reply);
        } catch (err) {
          clearInterval(timer);
          const status = statusOf(err);
          if (status === 403 || status === 404) {
            // The bot was removed or the conversation is gone: stop talking there.
            await references.markInactive(tenantId, channelId, `HTTP ${status}`).catch(() => undefined);
            log.warn({ channelId, status }, "teams: conversation unreachable; reference marked inactive");
            return;
          }
          log.error({ error: describe(err) }, "teams: answering failed");
          await send(
            makeReply({
              intent: "error",
              text: "Sorry, something went wrong while answering. Please try again.",
            }),
          ).catch((e) => log.error({ error: describe(e) }, "teams: error reply failed"));
        } finally {
          clearInterval(timer);
          await completeEvent(db, identity).catch((e) =>
            log.error({ error: describe(e) }, "teams: completing event failed"),
          );
        }
      })(),
    );
  }

  /** The asker's e-mail (or UPN) from TeamsInfo's member lookup; undefined when unavailable. */
  async function memberEmail(
    client: ConnectorClient,
    conversationId: string,
    memberId: string,
  ): Promise<string | undefined> {
    try {
      // The call TeamsInfo.getMember makes for a chat: GET v3/conversations/{id}/members/{memberId}.
      const m = (await client.conversations.getConversationMember(conversationId, memberId)) as {
        email?: string;
        userPrincipalName?: string;
      };
      const email = m.email ?? m.userPrincipalName;
      return email ? email.toLowerCase() : undefined;
    } catch (err) {
      log.warn({ error: describe(err) }, "teams: member lookup failed; answering with shared documents only");
      return undefined;
    }
  }

  async function recordFeedback(
    context: TurnContext,
    tenantId: string,
    answerId: string,
    rating: FeedbackInput["rating"],
  ) {
    const a = context.activity;
    return bot.recordFeedback({
      tenantId,
      platform: "teams",
      answerId,
      userId: a.from?.aadObjectId ?? a.from?.id ?? "",
      rating,
    });
  }

  async function onCardAction(
    context: TurnContext,
    tenantId: string,
    atomAction: string,
    answerId: string | undefined,
    value: string,
  ): Promise<string> {
    if (atomAction !== "feedback_up" && atomAction !== "feedback_down") return "Unknown action.";
    const id = answerId ?? value;
    if (!id) return "This answer can no longer be rated.";
    const a = context.activity;
    const identity = { platform: "teams", tenantId, key: `${a.conversation.id}:${a.id ?? ""}` };
    if (a.id && !(await claimEvent(db, identity))) return "Thanks, your feedback was already recorded.";
    const stored = await recordFeedback(context, tenantId, id, atomAction === "feedback_up" ? "up" : "down");
    if (a.id) await completeEvent(db, identity);
    return stored ? "Thanks for the feedback!" : "Thanks, your feedback was already recorded.";
  }

  async function onInvoke(context: TurnContext, tenantId: string): Promise<void> {
    const a = context.activity;
    const respond = (status: number, body?: unknown) =>
      context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status, body } });
    if (a.name === "adaptiveCard/action") {
      const action = parseCardAction(a.value);
      if (!action) {
        await respond(200, {
          statusCode: 400,
          type: "application/vnd.microsoft.error",
          value: { code: "BadRequest", message: "unknown card action" },
        });
        return;
      }
      const text = await onCardAction(context, tenantId, action.atomAction, action.answerId, action.value);
      await respond(200, {
        statusCode: 200,
        type: "application/vnd.microsoft.activity.message",
        value: text,
      });
      return;
    }
    if (a.name === "message/submitAction") {
      // Teams' built-in feedback buttons: value {actionName: "feedback", actionValue: {reaction, feedback}}.
      const v = (a.value ?? {}) as { actionName?: string; actionValue?: { reaction?: string } };
      const reaction = v.actionValue?.reaction;
      if (v.actionName === "feedback" && (reaction === "like" || reaction === "dislike") && a.replyToId) {
        const answerId = await references.answerOfMessage(tenantId, a.conversation.id, a.replyToId);
        if (answerId)
          await onCardAction(
            context,
            tenantId,
            reaction === "like" ? "feedback_up" : "feedback_down",
            answerId,
            "",
          );
      }
      await respond(200);
      return;
    }
    await respond(200);
  }

  // ---------- HTTP ----------

  const routes: RouteMounter = (app: Hono) => {
    const limit = bodyLimit({
      maxSize: MAX_ACTIVITY_BYTES,
      onError: (c) => c.json({ error: "the activity is too large" }, 413),
    });
    app.post("/api/messages", limit, async (c) => {
      const started = performance.now();
      const finish = (res: Response) => {
        webhookAckSeconds.observe(
          { route: "teams", status: String(res.status) },
          (performance.now() - started) / 1000,
        );
        return res;
      };
      if (!authenticated) {
        let remote: string | undefined;
        try {
          remote = getConnInfo(c).remote.address;
        } catch {
          remote = undefined;
        }
        if (!remote || !isLoopbackAddress(remote)) {
          return finish(
            c.json({ error: "unauthenticated Teams activities are accepted only from loopback" }, 401),
          );
        }
      }
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        return finish(c.json({ error: "the body must be a JSON Bot Framework activity" }, 400));
      }
      if (!body || typeof body !== "object" || Array.isArray(body)) {
        return finish(c.json({ error: "the body must be a JSON Bot Framework activity" }, 400));
      }
      // The shape is checked before any turn: a malformed activity gets 400, nothing stored, no call out.
      const shape = checkActivityShape(body);
      if (!shape.ok) {
        log.warn({ error: shape.error }, "teams: rejected a malformed activity");
        return finish(c.json({ error: shape.error }, 400));
      }
      const activity = body as Activity;
      if (!authenticated) {
        // No JWT binds the serviceUrl to Microsoft's connector here, so Atom only answers on this
        // machine; the canonical URL (the host that was checked) is what the connector client uses.
        const local = loopbackServiceUrl(activity.serviceUrl);
        if (!local) {
          log.warn(
            // The host only: a URL's user-info part could carry a secret.
            { serviceUrlHost: new URL(activity.serviceUrl).host.slice(0, 200) },
            "teams: refused an unauthenticated activity whose serviceUrl is not on loopback",
          );
          return finish(
            c.json(
              {
                error:
                  "without MICROSOFT_APP_ID the activity's serviceUrl must be an http(s) URL on loopback (localhost, 127.0.0.0/8, ::1)",
              },
              400,
            ),
          );
        }
        activity.serviceUrl = local;
      }
      let authResult: AuthenticateRequestResult;
      try {
        authResult = await auth.authenticateRequest(activity, c.req.header("authorization") ?? "");
      } catch (err) {
        if (isAuthRejection(err)) {
          log.warn(
            { reason: describe(err), serviceUrl: String(activity.serviceUrl ?? "").slice(0, 200) },
            "teams: rejected an activity without a valid token",
          );
          return finish(c.json({ error: "unauthorized" }, 401));
        }
        log.error({ error: describe(err) }, "teams: authenticating the activity failed");
        return finish(c.json({ error: "internal error" }, 500));
      }
      let invokeResponse: InvokeResponse | undefined;
      try {
        invokeResponse = await adapter.run(authResult, activity, onTurn);
      } catch (err) {
        log.error({ error: describe(err) }, "teams: processing the activity failed");
        return finish(c.json({ error: "internal error" }, 500));
      }
      const status = (invokeResponse?.status ?? 200) as 200;
      if (invokeResponse?.body === undefined || invokeResponse.body === null)
        return finish(c.body(null, status));
      return finish(c.json(invokeResponse.body as object, status));
    });
  };

  // ---------- proactive ----------

  async function withClient<T>(
    ref: Partial<ConversationReference>,
    fn: (client: ConnectorClient) => Promise<T>,
  ): Promise<T> {
    let out: T | undefined;
    let failure: { err: unknown } | undefined;
    let done = false;
    await adapter.continueConversationAsync(appId, ref, async (ctx) => {
      const client = ctx.turnState.get(adapter.ConnectorClientKey) as ConnectorClient;
      try {
        out = await fn(client);
        done = true;
      } catch (err) {
        failure = { err };
      }
    });
    if (failure) throw failure.err;
    if (!done) throw new Error("teams: proactive turn did not run");
    return out as T;
  }

  const messenger: Messenger = {
    platform: "teams",
    async send(target: ConversationTarget, reply: Reply) {
      if (!target.channelId) throw new Error("a Teams message needs a stored conversation (channelId)");
      const channelId = target.channelId;
      const stored = target.threadId
        ? ((await references.get(target.tenantId, target.threadId)) ??
          (await references.latestInChannel(target.tenantId, channelId)))
        : await references.latestInChannel(target.tenantId, channelId);
      if (!stored)
        throw new Error(`no Teams conversation reference for ${target.threadId ?? target.channelId}`);
      if (!stored.active) {
        throw new Error(
          `Teams conversation ${stored.channelId} is inactive (${stored.inactiveReason ?? "unreachable"})`,
        );
      }
      const ref = stored.reference;
      const activity = replyActivity(reply);
      try {
        return await withClient(ref, async (client) => {
          let conversationId: string;
          let id: string;
          // A thread of this channel: the stored one, or another thread of the same channel/chat.
          const threadId =
            target.threadId &&
            (stored.conversationId === target.threadId ||
              target.threadId.toLowerCase().startsWith(`${stored.channelId.toLowerCase()};messageid=`))
              ? target.threadId
              : undefined;
          if (stored.conversationType === "channel" && !threadId) {
            // A new post in a channel: create a conversation in that channel (never post to the bare id).
            const created = await client.conversations.createConversation({
              isGroup: true,
              bot: ref.bot as NonNullable<ConversationReference["bot"]>,
              channelData: {
                channel: { id: stored.channelId },
                ...(stored.teamsTenantId ? { tenant: { id: stored.teamsTenantId } } : {}),
              },
              tenantId: stored.teamsTenantId ?? undefined,
              activity: { ...activity, from: ref.bot } as Activity,
            } as Parameters<ConnectorClient["conversations"]["createConversation"]>[0]);
            conversationId = created.id ?? "";
            id = created.activityId ?? "";
          } else {
            conversationId = threadId ?? stored.conversationId;
            id = await post(client, ref, conversationId, activity);
          }
          if (reply.answerId && id)
            await references.recordSentAnswer(target.tenantId, conversationId, id, reply.answerId);
          return { messageId: id };
        });
      } catch (err) {
        const status = statusOf(err);
        if (status === 403 || status === 404) {
          await references.markInactive(stored.tenantId, stored.channelId, `HTTP ${status}`);
          log.warn(
            { channelId: stored.channelId, status },
            "teams: conversation unreachable; reference marked inactive",
          );
          throw new ConversationUnreachableError(stored.conversationId, status);
        }
        throw new Error(`sending to Teams failed: ${describe(err)}`);
      }
    },
  };

  return {
    routes,
    messenger,
    adapter,
    references,
    authenticated,
    async idle() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    async close() {
      closed = true;
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
}
