/**
 * Pure functions that turn a Teams activity into Atom's platform-neutral pieces: the question
 * text (bot mention removed), the thread conversation id, the files, and the tenant mapping.
 * Teams wire format: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/channel-and-group-conversations
 */
import type { Activity, Attachment, Entity } from "botbuilder";
import { DEFAULT_TENANT } from "../../config.ts";
import type { ChatFile } from "../types.ts";

/** Attachment content type of a file a user shared with the bot in Teams. */
export const TEAMS_FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info";

const HTML_ENTITIES: Record<string, string> = {
  "&nbsp;": " ",
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&#39;": "'",
  "&apos;": "'",
};

/** Decodes the handful of HTML entities Teams puts in message text. */
export function decodeEntities(text: string): string {
  return text
    .replace(/&(nbsp|amp|lt|gt|quot|apos|#39);/gi, (m) => HTML_ENTITIES[m.toLowerCase()] ?? m)
    .replace(/&#(\d{1,6});/g, (_m, d: string) => safeCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]{1,6});/gi, (_m, h: string) => safeCodePoint(Number.parseInt(h, 16)));
}

function safeCodePoint(n: number): string {
  return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : "";
}

interface MentionEntity {
  type: "mention";
  text?: string;
  mentioned?: { id?: string; name?: string };
}

function isMention(e: Entity): e is Entity & MentionEntity {
  return e?.type === "mention";
}

/**
 * The question text of a Teams message: the bot's own mention (matched by `recipient.id`; its
 * `<at>…</at>` text removed literally) is dropped, other people's mentions become their names,
 * remaining tags are stripped, `&nbsp;` and other entities decoded, CR/LF and runs of spaces
 * collapsed to single spaces.
 * Example: `<at>Ask Bot</at>&nbsp;summarize <at>Dana Fox</at> notes\r\n` → `summarize Dana Fox notes`.
 */
export function cleanText(
  text: string | undefined,
  entities: Entity[] | undefined,
  botId: string | undefined,
): string {
  let out = text ?? "";
  for (const e of entities ?? []) {
    if (!isMention(e) || typeof e.text !== "string" || e.text.length === 0) continue;
    const own = botId !== undefined && e.mentioned?.id === botId;
    const replacement = own ? " " : ` ${stripTags(e.text)} `;
    out = out.split(e.text).join(replacement);
  }
  out = out.replace(/<at>([\s\S]*?)<\/at>/gi, "$1");
  out = stripTags(out.replace(/<br\s*\/?>/gi, "\n").replace(/<\/(p|div)>/gi, "\n"));
  out = decodeEntities(out);
  return out.replace(/[\s\u00a0]+/g, " ").trim();
}

function stripTags(s: string): string {
  return s.replace(/<\/?[a-z][^>]*>/gi, "");
}

/** Whether the activity mentions the bot (a mention entity whose id is `recipient.id`). */
export function mentionsBot(activity: Partial<Activity>): boolean {
  const botId = activity.recipient?.id;
  return (activity.entities ?? []).some(
    (e) => isMention(e) && botId !== undefined && e.mentioned?.id === botId,
  );
}

/** Teams conversation kinds: `personal` (1:1 with the bot), `groupChat`, `channel`. */
export type TeamsConversationType = "personal" | "groupChat" | "channel";

/** The conversation type of an activity (Teams sets `conversation.conversationType`). */
export function conversationType(activity: Partial<Activity>): TeamsConversationType {
  const t = activity.conversation?.conversationType;
  if (t === "personal" || t === "groupChat" || t === "channel") return t;
  if (activity.conversation?.isGroup) return activity.channelData?.channel?.id ? "channel" : "groupChat";
  return "personal";
}

/** The conversation id without a `;messageid=…` thread suffix (the bare channel or chat id). */
export function baseConversationId(conversationId: string): string {
  const i = conversationId.toLowerCase().indexOf(";messageid=");
  return i === -1 ? conversationId : conversationId.slice(0, i);
}

/**
 * Where Atom answers an activity. Channel messages always get a thread conversation id: the
 * activity's own `…;messageid=<root>` when present, else `<channel>;messageid=<activity id>` (a new
 * thread under that post) — Atom never posts to a bare channel id. Chats answer in the chat.
 */
export function threadConversationId(activity: Partial<Activity>): string {
  const id = activity.conversation?.id ?? "";
  if (conversationType(activity) !== "channel") return id;
  if (id.toLowerCase().includes(";messageid=")) return id;
  const root = activity.replyToId ?? activity.id;
  if (!root) throw new Error("a channel activity without an id cannot be answered in a thread");
  return `${id};messageid=${root}`;
}

/** The Teams (Entra) tenant id of an activity. */
export function teamsTenantId(activity: Partial<Activity>): string | undefined {
  return activity.conversation?.tenantId ?? activity.channelData?.tenant?.id ?? undefined;
}

/**
 * Maps a Teams tenant to an Atom tenant — the one place this rule lives. The bot configured by
 * environment (`MICROSOFT_APP_ID`) belongs to the default tenant (DESIGN.md, Tenants), whatever
 * Teams tenant the conversation is in; the Teams tenant id is kept on the conversation reference.
 */
export function atomTenantFor(_teamsTenantId: string | undefined): string {
  return DEFAULT_TENANT;
}

/**
 * Files attached to a Teams message: shared files (`…file.download.info`, with a pre-authenticated
 * `downloadUrl`; `mimetype` is that attachment type and `filetype` the file's extension from
 * `content.fileType`) and `audio/*` attachments (`contentUrl`; `mimetype` the audio type). `download` GETs the URL without an
 * `Authorization` header (the URL carries its own token) and rejects non-2xx answers and bodies
 * larger than `maxBytes`.
 */
export function filesOf(
  attachments: Attachment[] | undefined,
  opts: { maxBytes: number; fetch?: typeof fetch },
): ChatFile[] {
  const doFetch = opts.fetch ?? fetch;
  const out: ChatFile[] = [];
  (attachments ?? []).forEach((a, i) => {
    let url: string | undefined;
    let filetype: string | undefined;
    let mimetype: string | undefined;
    if (a.contentType === TEAMS_FILE_DOWNLOAD_INFO) {
      const content = (a.content ?? {}) as { downloadUrl?: unknown; fileType?: unknown; uniqueId?: unknown };
      url = typeof content.downloadUrl === "string" ? content.downloadUrl : undefined;
      filetype = typeof content.fileType === "string" ? content.fileType.toLowerCase() : undefined;
      // The attachment type says "a shared file"; the file's own type is `filetype` (voice notes
      // are recognised from it, e.g. m4a or mp4).
      mimetype = TEAMS_FILE_DOWNLOAD_INFO;
    } else if (typeof a.contentType === "string" && a.contentType.toLowerCase().startsWith("audio/")) {
      url = a.contentUrl;
      mimetype = a.contentType.toLowerCase();
      filetype = extensionOf(a.name);
    } else {
      return;
    }
    if (!url || !/^https?:\/\//i.test(url)) return;
    const name = a.name ?? `attachment-${i + 1}${filetype ? `.${filetype}` : ""}`;
    const downloadUrl = url;
    const uniqueId = (a.content as { uniqueId?: unknown } | null | undefined)?.uniqueId;
    out.push({
      id: typeof uniqueId === "string" && uniqueId ? uniqueId : `${i}:${name}`,
      name,
      mimetype,
      filetype: filetype ?? extensionOf(name),
      downloadUrl,
      download: async () => {
        const res = await doFetch(downloadUrl, { redirect: "follow" });
        if (!res.ok) throw new Error(`downloading ${name} failed with HTTP ${res.status}`);
        const declared = Number(res.headers.get("content-length") ?? "0");
        if (declared > opts.maxBytes) throw new Error(`${name} is larger than ${opts.maxBytes} bytes`);
        const bytes = Buffer.from(await res.arrayBuffer());
        if (bytes.length > opts.maxBytes) throw new Error(`${name} is larger than ${opts.maxBytes} bytes`);
        return bytes;
      },
    });
  });
  return out;
}

function extensionOf(name: string | undefined): string | undefined {
  const m = /\.([a-z0-9]{1,8})$/i.exec(name ?? "");
  return m?.[1]?.toLowerCase();
}
