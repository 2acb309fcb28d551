/**
 * Pure functions that turn a Teams activity into Atom's platform-neutral pieces: the question
 * text (bot mention removed), the thread conversation id, the files (with their voice-note
 * verdict), the Entra tenant id, and whether the activity is meant for the bot.
 * Teams wire format: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/channel-and-group-conversations
 */
import type { Activity, Attachment, Entity } from "botbuilder";
import type { ChatFile } from "../../core/ports.ts";

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
  text?: string | null;
  mentioned?: { id?: string | null; name?: string | null } | null;
}

function isMention(e: Entity): e is Entity & MentionEntity {
  return e?.type === "mention";
}

/** Characters with a meaning in a regular expression, escaped. */
function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The name as Teams may write it inside `<at>…</at>` (plain or HTML-escaped). */
function markupPattern(name: string): RegExp {
  const escaped = name.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const alternatives = [...new Set([name, escaped])].map(escapeRegExp).join("|");
  return new RegExp(`<at[^>]*>\\s*(?:${alternatives})\\s*</at>`, "i");
}

/**
 * Removes the first place a mention entity appears in `text`: its literal `text` (`<at>Name</at>`)
 * when Teams sent one, else `<at>…</at>` around `mentioned.name` (some clients send mention
 * entities without `text`). @returns the new text, or undefined when the mention was not found.
 */
function replaceMention(text: string, e: MentionEntity, replacement: string): string | undefined {
  if (typeof e.text === "string" && e.text.length > 0) {
    const i = text.indexOf(e.text);
    if (i !== -1) return `${text.slice(0, i)}${replacement}${text.slice(i + e.text.length)}`;
  }
  const name = e.mentioned?.name?.trim();
  if (!name) return undefined;
  const m = markupPattern(name).exec(text);
  if (!m) return undefined;
  return `${text.slice(0, m.index)}${replacement}${text.slice(m.index + m[0].length)}`;
}

/**
 * The question text of a Teams message: the bot's own mentions (entities whose `mentioned.id` is
 * `recipient.id`) are removed — by the entity's literal `text`, or by `<at>name</at>` when the entity
 * has no `text`, or, when the client sent no markup at all, by the bot's name at the very start —
 * other people's mentions become their names, remaining tags are stripped, `&nbsp;` and other
 * entities decoded, CR/LF and runs of spaces collapsed to single spaces.
 * Examples: `<at>Ask Bot</at>&nbsp;summarize <at>Dana Fox</at> notes\r\n` → `summarize Dana Fox notes`;
 * `<at>Chat SDK Demo</at> help` with a mention entity without `text` → `help`.
 */
export function cleanText(
  text: string | undefined | null,
  entities: Entity[] | undefined | null,
  botId: string | undefined,
): string {
  let out = text ?? "";
  const mentions = (entities ?? []).filter(isMention);
  const own = mentions.filter((e) => botId !== undefined && e.mentioned?.id === botId);
  const others = mentions.filter((e) => !own.includes(e));
  let leadingName: string | undefined;
  for (const e of own) {
    const next = replaceMention(out, e, " ");
    if (next !== undefined) out = next;
    else leadingName ??= e.mentioned?.name?.trim() || undefined;
  }
  for (const e of others) {
    const name = stripTags((typeof e.text === "string" && e.text ? e.text : "") || (e.mentioned?.name ?? ""));
    const next = replaceMention(out, e, ` ${name} `);
    if (next !== undefined) out = next;
  }
  out = out.replace(/<at[^>]*>([\s\S]*?)<\/at>/gi, "$1");
  out = stripTags(out.replace(/<br\s*\/?>/gi, "\n").replace(/<\/(p|div)>/gi, "\n"));
  out = decodeEntities(out);
  out = out.replace(/[\s\u00a0]+/g, " ").trim();
  if (leadingName && out.toLowerCase().startsWith(leadingName.toLowerCase())) {
    const rest = out.slice(leadingName.length);
    if (rest === "" || /^[\s,:]/.test(rest)) out = rest.replace(/^[\s,:]+/, "");
  }
  return out;
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

/**
 * The Teams (Entra) tenant id of an activity: `channelData.tenant.id` (Teams always sets it) or
 * `conversation.tenantId`. When both are present and differ, the activity names no tenant
 * (undefined), so it is treated like one without a tenant id.
 */
export function teamsTenantId(activity: Partial<Activity>): string | undefined {
  const fromChannelData = nonEmpty(activity.channelData?.tenant?.id);
  const fromConversation = nonEmpty(activity.conversation?.tenantId);
  if (fromChannelData && fromConversation && fromChannelData.toLowerCase() !== fromConversation.toLowerCase())
    return undefined;
  return fromChannelData ?? fromConversation;
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * Whether a message or installation activity is meant for the bot, so that it deserves an answer
 * (or a refusal): a personal chat, a mention of the bot, or the bot being added to a conversation.
 */
export function addressesBot(activity: Partial<Activity>): boolean {
  const botId = activity.recipient?.id;
  if (activity.type === "message") return conversationType(activity) === "personal" || mentionsBot(activity);
  if (activity.type === "installationUpdate") return String(activity.action ?? "").startsWith("add");
  if (activity.type === "conversationUpdate")
    return (activity.membersAdded ?? []).some((m) => botId !== undefined && m?.id === botId);
  return false;
}

/** The person's IANA time zone from a Teams activity (`localTimezone`), when it is one Node knows. */
export function userTimeZone(activity: Partial<Activity>): string | undefined {
  const tz = (activity as { localTimezone?: unknown }).localTimezone;
  if (typeof tz !== "string" || tz.length === 0 || tz.length > 64) return undefined;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz;
  } catch {
    return undefined;
  }
}

/**
 * Shared-file types Teams sends as `…file.download.info` that are voice notes (recorded clips and
 * audio files): m4a, mp3, wav, ogg, webm, mp4, aac.
 */
export const TEAMS_AUDIO_TYPES: ReadonlySet<string> = new Set([
  "m4a",
  "mp3",
  "wav",
  "ogg",
  "webm",
  "mp4",
  "aac",
]);

/** Attachment types that are never files: the message's own HTML body and cards. */
function isNotAFile(contentType: string): boolean {
  return (
    contentType === "text/html" ||
    contentType === "text/plain" ||
    contentType.startsWith("application/vnd.microsoft.card.") ||
    contentType.startsWith("application/vnd.microsoft.teams.card.")
  );
}

/**
 * Files attached to a Teams message, each with the adapter's voice-note verdict (`isVoiceNote`):
 * - shared files (`…file.download.info`, with a pre-authenticated `downloadUrl`; `mimetype` is that
 *   attachment type and `filetype` the file's extension from `content.fileType`) — a voice note when
 *   the type is one of {@link TEAMS_AUDIO_TYPES};
 * - `audio/*` attachments (`contentUrl`; `mimetype` the audio type) — always a voice note;
 * - other attachments with a `contentUrl` (images, videos) — listed so Atom can say what it reads,
 *   never downloaded (no `download`).
 * Cards and the message's HTML body are not files. `download` GETs the URL without an
 * `Authorization` header (the URL carries its own token) and rejects non-2xx answers and bodies
 * larger than `maxBytes`.
 */
export function filesOf(
  attachments: Attachment[] | undefined | null,
  opts: { maxBytes: number; fetch?: typeof fetch },
): ChatFile[] {
  const doFetch = opts.fetch ?? fetch;
  const out: ChatFile[] = [];
  (attachments ?? []).forEach((a, i) => {
    const contentType = typeof a?.contentType === "string" ? a.contentType.toLowerCase() : "";
    let url: string | undefined;
    let filetype: string | undefined;
    let mimetype: string | undefined;
    let voice = false;
    let downloadable = true;
    if (contentType === TEAMS_FILE_DOWNLOAD_INFO) {
      const content = (a.content ?? {}) as { downloadUrl?: unknown; fileType?: unknown };
      url = typeof content.downloadUrl === "string" ? content.downloadUrl : undefined;
      filetype = typeof content.fileType === "string" ? content.fileType.toLowerCase() : undefined;
      // The attachment type says "a shared file"; the file's own type is `filetype`.
      mimetype = TEAMS_FILE_DOWNLOAD_INFO;
      voice = TEAMS_AUDIO_TYPES.has(filetype ?? extensionOf(a.name) ?? "");
    } else if (contentType.startsWith("audio/")) {
      url = a.contentUrl ?? undefined;
      mimetype = contentType;
      filetype = extensionOf(a.name);
      voice = true;
    } else if (contentType && !isNotAFile(contentType) && typeof a.contentUrl === "string") {
      url = a.contentUrl;
      mimetype = contentType;
      filetype = extensionOf(a.name);
      // Teams-hosted content needs the bot's token; Atom reads none of these, so none is fetched.
      downloadable = false;
    } else {
      return;
    }
    if (!url || !/^https?:\/\//i.test(url)) return;
    const name = a.name ?? `attachment-${i + 1}${filetype ? `.${filetype}` : ""}`;
    const downloadUrl = url;
    const uniqueId = (a.content as { uniqueId?: unknown } | null | undefined)?.uniqueId;
    const file: ChatFile = {
      id: typeof uniqueId === "string" && uniqueId ? uniqueId : `${i}:${name}`,
      name,
      mimetype,
      filetype: filetype ?? extensionOf(name),
      isVoiceNote: voice,
      downloadUrl,
    };
    if (downloadable) {
      file.download = async () => {
        const res = await doFetch(downloadUrl, { redirect: "follow" });
        if (!res.ok) throw new Error(`downloading ${name} failed with HTTP ${res.status}`);
        const declared = Number(res.headers.get("content-length") ?? "0");
        if (declared > opts.maxBytes) throw new Error(`${name} is larger than ${opts.maxBytes} bytes`);
        const bytes = Buffer.from(await res.arrayBuffer());
        if (bytes.length > opts.maxBytes) throw new Error(`${name} is larger than ${opts.maxBytes} bytes`);
        return bytes;
      };
    }
    out.push(file);
  });
  return out;
}

function extensionOf(name: string | undefined | null): string | undefined {
  const m = /\.([a-z0-9]{1,8})$/i.exec(name ?? "");
  return m?.[1]?.toLowerCase();
}
