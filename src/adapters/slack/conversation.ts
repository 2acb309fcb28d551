import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import type {
  AdapterReplyStream,
  ConversationAdapter,
  InboundAction,
  InboundTurn,
} from "../../core/conversation.ts";
import type { ConversationTarget, Messenger, Reply } from "../../core/ports.ts";
import { SHARED_INTENT, type Shares } from "../../core/share.ts";
import { PermanentJobError } from "../../core/worker.ts";
import { claimWindow } from "../../db/events.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Credentials, SlackCredentials } from "./credentials.ts";
import { renderNotice, renderReply } from "./format.ts";
import { errorCode } from "./identity.ts";
import {
  actionChannel,
  actionOf,
  commandMessageOf,
  filesOf,
  messageOf,
  type SlackProfile,
  skipReason,
} from "./normalise.ts";
import {
  commandWorkspace,
  actionWorkspace,
  callbackWorkspace,
  type SlackInbound,
  slackInbound,
} from "./payloads.ts";
import { downloadFile, type SlackSender } from "./send.ts";
import { SlackReplyStream } from "./stream.ts";

/** What a Slack turn needs to answer (kept in memory only while the job runs). */
export type SlackTurnContext =
  | {
      kind: "event";
      tenantId: string;
      token: string;
      channel: string;
      ts: string;
      threadTs: string;
      userId: string;
      isDirect: boolean;
      /** The asker's Slack team (a streamed answer outside a DM names its recipient). */
      teamId?: string;
    }
  | { kind: "command"; tenantId: string; token: string; responseUrl: string };

/** What a button press needs to answer its presser. */
export interface SlackActionContext {
  kind: "action";
  tenantId: string;
  token: string;
  channel?: string;
  userId: string;
  responseUrl?: string;
}

/** Settings of the Slack conversation adapter. */
export interface SlackConversationOptions {
  /** Identical `/atom` commands from one person in one channel within this window run once (default 30 s). */
  commandDedupeMs?: number;
  /** How long a job waits for the single-workspace bot identity before going on without it, ms (default 60,000). */
  identityWaitMs?: number;
}

/**
 * Slack's side of the core conversation pipeline (src/core/conversation.ts), run by the job
 * worker: turns stored deliveries into core messages and actions (tenant, token, bot identity,
 * the asker's e-mail and whether the channel is shared with other organisations), posts replies
 * in the thread, answers `/atom` privately at its `response_url` (offering "Share in channel"),
 * shows the ⏳ reaction on slow answers, and sends proactive messages (the Messenger port).
 */
/** Any Slack reply context. */
export type SlackContext = SlackTurnContext | SlackActionContext;

export class SlackConversation implements ConversationAdapter<SlackInbound, SlackContext> {
  readonly platform = "slack" as const;
  private readonly profiles = new LRUCache<string, SlackProfile>({ max: 10_000, ttl: 10 * 60_000 });
  private readonly extShared = new LRUCache<string, { shared?: boolean }>({ max: 10_000, ttl: 10 * 60_000 });

  constructor(
    private readonly deps: {
      db: Db;
      credentials: SlackCredentials;
      sender: SlackSender;
      shares?: Shares;
      slackApiUrl: string;
      allowedBots: ReadonlySet<string>;
      logger: Logger;
      options?: SlackConversationOptions;
    },
  ) {}

  private get waitMs(): number {
    return this.deps.options?.identityWaitMs ?? 60_000;
  }

  async toTurn(stored: SlackInbound): Promise<InboundTurn<SlackContext> | { ignored: string }> {
    const inbound = parse(stored);
    if (inbound.source === "action") throw new PermanentJobError("a button press stored as a message");
    const { credentials } = this.deps;
    if (inbound.source === "event") {
      const body = inbound.body;
      const ev = body.event;
      const workspace = callbackWorkspace(body);
      const tenantId = await credentials.tenantOf(workspace, this.waitMs);
      const cred = await credentials.forTenant(tenantId, this.waitMs);
      if (!cred) return this.noInstallation(workspace);
      const skip = skipReason(ev, cred, this.deps.allowedBots);
      if (skip) return { ignored: skip };
      const isDirect = ev.channel_type === "im";
      const files = filesOf(ev.files, (url) => downloadFile(url, cred.token, this.deps.slackApiUrl));
      const user = ev.user ? await this.profileOf(tenantId, cred, ev.user) : undefined;
      // In channels the audience, not the asker, decides what may be quoted: the e-mail is used in DMs only.
      const userEmail = isDirect ? user?.email : undefined;
      const message = messageOf(body, { tenantId, bot: cred, userEmail, user, files });
      return {
        message,
        context: {
          kind: "event",
          tenantId,
          token: cred.token,
          channel: ev.channel,
          ts: ev.ts,
          threadTs: message.threadId,
          userId: message.userId,
          isDirect,
          teamId: (ev as { team?: string }).team ?? body.team_id ?? undefined,
        },
      };
    }
    const c = inbound.body;
    const workspace = commandWorkspace(c);
    const tenantId = await credentials.tenantOf(workspace, this.waitMs);
    const cred = await credentials.forTenant(tenantId, this.waitMs);
    if (!cred) {
      await this.deps.sender.respond(c.response_url, {
        response_type: "ephemeral",
        replace_original: true,
        ...renderNotice(
          "Atom is not installed in this workspace. An admin can install it from Atom's /slack/install page.",
        ),
      });
      return this.noInstallation(workspace);
    }
    const digest = createHash("sha256").update(c.text.trim().toLowerCase()).digest("hex").slice(0, 32);
    const windowKey = { platform: "slack", tenantId, key: `cmd:${c.channel_id}:${c.user_id}:${digest}` };
    if (!(await claimWindow(this.deps.db, windowKey, this.deps.options?.commandDedupeMs ?? 30_000))) {
      return { ignored: "the same /atom command again within the dedupe window" };
    }
    const user = await this.profileOf(tenantId, cred, c.user_id);
    const message = commandMessageOf(c, {
      tenantId,
      bot: cred,
      userEmail: user.email,
      user,
      isExternallyShared: await this.isExternallyShared(tenantId, cred, c.channel_id),
    });
    return {
      message,
      context: { kind: "command", tenantId, token: cred.token, responseUrl: c.response_url },
    };
  }

  async send(turn: InboundTurn<SlackContext>, reply: Reply): Promise<void> {
    const ctx = turn.context;
    if (ctx.kind === "action") throw new PermanentJobError("a button press has no thread to answer in");
    if (ctx.kind === "command") {
      const offered = this.deps.shares ? await this.deps.shares.offer(turn.message, reply) : reply;
      for (const [i, m] of renderReply(offered).entries()) {
        await this.deps.sender.respond(ctx.responseUrl, {
          response_type: "ephemeral",
          replace_original: i === 0,
          text: m.text,
          blocks: m.blocks,
        });
      }
      return;
    }
    await this.deps.sender.post(
      {
        tenantId: ctx.tenantId,
        token: ctx.token,
        channel: ctx.channel,
        threadTs: ctx.threadTs,
        ephemeralUser: reply.visibility === "ephemeral" && !ctx.isDirect ? ctx.userId : undefined,
      },
      renderReply(reply),
    );
  }

  /** A streamed answer for a message event (not for `/atom`, which answers at its response_url). */
  openStream(turn: InboundTurn<SlackContext>): AdapterReplyStream | undefined {
    const ctx = turn.context;
    if (ctx.kind !== "event" || turn.message.visibility === "ephemeral") return undefined;
    return new SlackReplyStream(
      this.deps.sender.client(ctx.token),
      {
        channel: ctx.channel,
        threadTs: ctx.threadTs,
        isDirect: ctx.isDirect,
        recipientUserId: ctx.userId,
        recipientTeamId: ctx.teamId,
      },
      this.deps.logger,
    );
  }

  async working(turn: InboundTurn<SlackContext>): Promise<() => Promise<void>> {
    const ctx = turn.context;
    if (ctx.kind !== "event") return async () => {};
    await this.deps.sender.react(ctx.tenantId, ctx.token, "add", ctx.channel, ctx.ts);
    return () => this.deps.sender.react(ctx.tenantId, ctx.token, "remove", ctx.channel, ctx.ts);
  }

  async toAction(stored: SlackInbound): Promise<InboundAction<SlackContext> | { ignored: string }> {
    const inbound = parse(stored);
    if (inbound.source !== "action") throw new PermanentJobError("a message stored as a button press");
    const b = inbound.body;
    const workspace = actionWorkspace(b);
    const tenantId = await this.deps.credentials.tenantOf(workspace, this.waitMs);
    const cred = await this.deps.credentials.forTenant(tenantId);
    if (!cred) return this.noInstallation(workspace);
    const action = actionOf(b, { tenantId, user: await this.profileOf(tenantId, cred, b.user.id) });
    if (!action) return { ignored: `action type ${b.actions[0]?.type}` };
    return {
      action,
      context: {
        kind: "action",
        tenantId,
        token: cred.token,
        channel: actionChannel(b),
        userId: b.user.id,
        responseUrl: b.response_url,
      },
    };
  }

  async answerAction(inbound: InboundAction<SlackContext>, reply: Reply): Promise<void> {
    const ctx = inbound.context;
    if (ctx.kind !== "action") throw new PermanentJobError("not a button press");
    if (ctx.responseUrl) {
      if (reply.intent === SHARED_INTENT) {
        // The answer is now in the channel: remove the private copy with its share button.
        await this.deps.sender.respond(ctx.responseUrl, { delete_original: true });
        return;
      }
      const m = renderNotice(reply.text);
      await this.deps.sender.respond(ctx.responseUrl, {
        response_type: "ephemeral",
        replace_original: false,
        text: m.text,
        blocks: m.blocks,
      });
      return;
    }
    if (ctx.channel) {
      await this.deps.sender.post(
        { tenantId: ctx.tenantId, token: ctx.token, channel: ctx.channel, ephemeralUser: ctx.userId },
        [renderNotice(reply.text)],
      );
    }
  }

  /**
   * Proactive send (workflows, jobs, shared answers): a channel (in `threadId` when set) or a
   * person's DM (Slack opens it from the user id).
   * @throws Error when the tenant has no installation or Slack refuses the message.
   */
  async sendTo(target: ConversationTarget, reply: Reply): Promise<{ messageId: string }> {
    const cred = await this.deps.credentials.forTenant(target.tenantId);
    if (!cred) throw new Error(`no Slack installation for tenant ${target.tenantId}`);
    const channel = target.channelId ?? target.userId;
    if (!channel) throw new Error("a Slack message needs a channel or a user");
    const footer = reply.sharedBy ? `Shared by <@${reply.sharedBy}> with /atom` : undefined;
    try {
      const ts = await this.deps.sender.post(
        { tenantId: target.tenantId, token: cred.token, channel, threadTs: target.threadId },
        renderReply(reply, { footer, withoutActions: Boolean(reply.sharedBy) }),
      );
      return { messageId: ts ?? "" };
    } catch (err) {
      throw new Error(`Slack refused the message (${(err as Error).message})`);
    }
  }

  /** The Messenger port over {@link sendTo}. */
  messenger(): Messenger {
    return { platform: "slack", send: (target, reply) => this.sendTo(target, reply) };
  }

  /**
   * The person's e-mail, time zone and admin flag from `users.info` (cached 10 minutes per
   * tenant and user; a failed call is cached 1 minute and yields an empty profile, so the answer
   * goes on without them).
   */
  private async profileOf(tenantId: string, cred: Credentials, userId: string): Promise<SlackProfile> {
    const key = `${tenantId}:${userId}`;
    const hit = this.profiles.get(key);
    if (hit) return hit;
    try {
      const r = await this.deps.sender.client(cred.token).users.info({ user: userId });
      const u = r.user;
      const profile: SlackProfile = {
        email: u?.profile?.email?.toLowerCase(),
        timeZone: typeof u?.tz === "string" && u.tz ? u.tz : undefined,
        isAdmin: u ? Boolean(u.is_admin || u.is_owner) : undefined,
      };
      this.profiles.set(key, profile);
      return profile;
    } catch (err) {
      this.deps.logger.warn(
        { code: errorCode(err) },
        "users.info failed; answering without the asker's e-mail, time zone and admin flag",
      );
      this.profiles.set(key, {}, { ttl: 60_000 });
      return {};
    }
  }

  /**
   * Whether a channel is shared with other organisations (`conversations.info` `is_ext_shared`,
   * cached 10 minutes). Undefined when Slack does not say (e.g. the `channels:read` scope is
   * missing): the core then treats the channel as not shared.
   */
  private async isExternallyShared(
    tenantId: string,
    cred: Credentials,
    channel: string,
  ): Promise<boolean | undefined> {
    if (channel.startsWith("D")) return false;
    const key = `${tenantId}:${channel}`;
    const hit = this.extShared.get(key);
    if (hit) return hit.shared;
    let shared: boolean | undefined;
    try {
      const r = await this.deps.sender.client(cred.token).conversations.info({ channel });
      shared = typeof r.channel?.is_ext_shared === "boolean" ? r.channel.is_ext_shared : undefined;
    } catch (err) {
      this.deps.logger.debug({ code: errorCode(err) }, "conversations.info failed; channel sharing unknown");
    }
    this.extShared.set(key, { shared });
    return shared;
  }

  private noInstallation(workspace: string | undefined): { ignored: string } {
    this.deps.logger.warn({ teamId: workspace }, "no Slack installation for this team; delivery ignored");
    return { ignored: `no Slack installation for team ${workspace ?? "(unknown)"}` };
  }
}

/** Re-checks a stored payload. @throws PermanentJobError when it is malformed. */
function parse(stored: SlackInbound): SlackInbound {
  const r = slackInbound.safeParse(stored);
  if (!r.success)
    throw new PermanentJobError(`malformed stored Slack payload: ${r.error.issues[0]?.message ?? "invalid"}`);
  return r.data as SlackInbound;
}
