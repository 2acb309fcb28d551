/**
 * Builders for Teams activities as the Bot Framework channel delivers them to `POST /api/messages`
 * (personal chat, group chat, channel thread, mentions, file attachments, card invokes), and a
 * poster that sends them to a running Atom.
 * Shapes follow https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/conversation-messages
 */
import { randomUUID } from "node:crypto";

/** The bot's identity in the test tenant. */
export const TEST_BOT = { id: "28:atom-test-bot", name: "Ask Bot" } as const;
/** The Teams (Entra) tenant id used by test activities. */
export const TEST_TEAMS_TENANT = "72f988bf-0000-4000-8000-000000000001";
/** A test user. */
export const TEST_USER = {
  id: "29:1-dana-fox",
  name: "Dana Fox",
  aadObjectId: "00000000-0000-4000-8000-0000000000da",
  email: "dana.fox@example.com",
} as const;

export type ConversationKind = "personal" | "groupChat" | "channel";

export interface ActivityOptions {
  serviceUrl: string;
  kind?: ConversationKind;
  /** Conversation id; defaults per kind (channel: a thread id with `;messageid=`). */
  conversationId?: string;
  text?: string;
  id?: string;
  from?: { id: string; name?: string; aadObjectId?: string };
  entities?: Array<Record<string, unknown>>;
  attachments?: Array<Record<string, unknown>>;
  /** Channel id for `kind: "channel"` (default `19:abc123def@thread.tacv2`). */
  channelId?: string;
  teamsTenantId?: string;
  value?: unknown;
}

/** A Teams `message` activity. */
export function teamsMessage(o: ActivityOptions): Record<string, unknown> {
  const kind = o.kind ?? "personal";
  const id = o.id ?? `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const channel = o.channelId ?? "19:abc123def@thread.tacv2";
  const tenant = o.teamsTenantId ?? TEST_TEAMS_TENANT;
  const conversationId =
    o.conversationId ??
    (kind === "personal"
      ? `a:1-personal-${TEST_USER.aadObjectId}`
      : kind === "groupChat"
        ? "19:group-chat-1@thread.v2"
        : `${channel};messageid=${id}`);
  const channelData: Record<string, unknown> = { tenant: { id: tenant } };
  if (kind === "channel") {
    channelData.channel = { id: channel, name: "General" };
    channelData.team = { id: channel, name: "Handbook team" };
    channelData.teamsChannelId = channel;
    channelData.teamsTeamId = channel;
  }
  return {
    type: "message",
    id,
    timestamp: new Date().toISOString(),
    localTimestamp: new Date().toISOString(),
    serviceUrl: o.serviceUrl,
    channelId: "msteams",
    from: o.from ?? { id: TEST_USER.id, name: TEST_USER.name, aadObjectId: TEST_USER.aadObjectId },
    conversation: {
      id: conversationId,
      conversationType: kind,
      tenantId: tenant,
      ...(kind === "personal" ? {} : { isGroup: true }),
    },
    recipient: { id: TEST_BOT.id, name: TEST_BOT.name },
    textFormat: "plain",
    locale: "en-US",
    text: o.text ?? "",
    entities: o.entities ?? [{ type: "clientInfo", locale: "en-US", country: "US", platform: "Web" }],
    attachments: o.attachments ?? [],
    channelData,
    ...(o.value !== undefined ? { value: o.value } : {}),
  };
}

/** A mention entity as Teams sends it (`text` is the literal `<at>Name</at>` in the message). */
export function mention(who: { id: string; name: string }): { type: string } & Record<string, unknown> {
  return { type: "mention", text: `<at>${who.name}</at>`, mentioned: { id: who.id, name: who.name } };
}

/** A Teams file attachment (`application/vnd.microsoft.teams.file.download.info`). */
export function fileAttachment(
  name: string,
  downloadUrl: string,
  fileType = name.split(".").pop() ?? "",
): Record<string, unknown> {
  return {
    contentType: "application/vnd.microsoft.teams.file.download.info",
    name,
    content: { downloadUrl, uniqueId: randomUUID(), fileType },
  };
}

/** An `audio/*` attachment with a content URL (voice clips from some clients). */
export function audioAttachment(
  name: string,
  contentUrl: string,
  contentType = "audio/mp4",
): Record<string, unknown> {
  return { contentType, name, contentUrl };
}

/** The `adaptiveCard/action` invoke Teams sends when an `Action.Execute` button is pressed. */
export function cardActionInvoke(
  o: ActivityOptions & { verb: string; data: Record<string, unknown>; replyToId?: string },
): Record<string, unknown> {
  const base = teamsMessage(o);
  return {
    ...base,
    type: "invoke",
    name: "adaptiveCard/action",
    text: undefined,
    replyToId: o.replyToId ?? "1717000000999",
    value: { action: { type: "Action.Execute", verb: o.verb, data: o.data }, trigger: "manual" },
  };
}

/** A `conversationUpdate` announcing the bot was added (installation in a team or chat). */
export function botAddedUpdate(o: ActivityOptions): Record<string, unknown> {
  const base = teamsMessage(o);
  return { ...base, type: "conversationUpdate", text: undefined, membersAdded: [{ id: TEST_BOT.id }] };
}

/** An `installationUpdate` (`add` / `remove`). */
export function installationUpdate(
  o: ActivityOptions & { action: "add" | "remove" },
): Record<string, unknown> {
  const base = teamsMessage(o);
  return { ...base, type: "installationUpdate", text: undefined, action: o.action };
}

/**
 * Posts an activity to Atom's `POST /api/messages`.
 * @param authorization the `Authorization` header value; omitted when undefined.
 */
export async function postActivity(
  baseUrl: string,
  activity: unknown,
  authorization?: string,
): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== undefined) headers.authorization = authorization;
  return fetch(`${baseUrl}/api/messages`, { method: "POST", headers, body: JSON.stringify(activity) });
}

/**
 * Every piece of text in an outgoing activity the fake connector recorded (`text`, `summary`,
 * Adaptive Card text blocks), as one string for `toContain` checks.
 */
export function activityText(body: Record<string, unknown> | null | undefined): string {
  if (!body) return "";
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      for (const k of ["text", "title", "items", "body", "content", "attachments", "summary"])
        if (k in o) walk(o[k]);
    }
  };
  walk({ text: body.text, summary: body.summary, attachments: body.attachments });
  return parts.join("\n");
}
