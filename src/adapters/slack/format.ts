import type { Button, KnownBlock } from "@slack/types";
import type { Citation, Reply, ReplyAction } from "../../bot/reply.ts";

/** Slack's limit for the text of one section block (characters). */
export const SECTION_TEXT_LIMIT = 3000;
/** Slack's limit of blocks in one message. */
export const MAX_BLOCKS = 50;
/** Slack's limit of elements in one actions block. */
const MAX_ACTION_ELEMENTS = 25;
/** Length we keep for a message's top-level fallback text (notifications, screen readers). */
const FALLBACK_TEXT_LIMIT = 3000;

const ZWSP = "\u200B";

/**
 * Escapes text for Slack mrkdwn (https://docs.slack.dev/messaging/formatting-message-text#escaping):
 * `&`, `<` and `>` become entities, so document or user text can never form a link, a user
 * mention or a `<!channel>`/`<!here>` broadcast. Bare `@channel`, `@here` and `@everyone` get a
 * zero-width space so they cannot be linkified, and triple backticks are broken so quoted text
 * cannot open a code block that swallows the rest of the message.
 */
export function escapeMrkdwn(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/@(channel|here|everyone)\b/gi, `@${ZWSP}$1`)
    .replace(/```/g, `\`${ZWSP}\`\``);
}

/**
 * Turns Slack message markup into plain text for the bot core: removes the mention of the bot,
 * renders `<@U1|name>` as `@name`, `<#C1|general>` as `#general`, `<!here>` as `@here`, links as
 * their label, and unescapes `&lt;`, `&gt;`, `&amp;`.
 */
export function slackToPlain(text: string, botUserId?: string): string {
  let out = text;
  if (botUserId) out = out.replace(new RegExp(`<@${escapeRegExp(botUserId)}(\\|[^>]*)?>`, "g"), " ");
  out = out.replace(/<([^<>]*)>/g, (_m, inner: string) => {
    const [target = "", label] = splitOnce(inner, "|");
    if (target.startsWith("@")) return label ? `@${label.replace(/^@/, "")}` : target;
    if (target.startsWith("#")) return label ? `#${label}` : target;
    if (target.startsWith("!subteam^")) return label ?? "@group";
    if (target.startsWith("!date^")) return label ?? "";
    if (target.startsWith("!")) return `@${target.slice(1)}`;
    if (label) return label;
    return target.replace(/^mailto:/, "");
  });
  return out
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+/g, " ")
    .trim();
}

/**
 * Splits already escaped mrkdwn into pieces of at most `limit` characters, preferring paragraph,
 * line and word boundaries, and never cutting an entity (`&amp;`) or a surrogate pair in two.
 */
export function splitMrkdwn(text: string, limit = SECTION_TEXT_LIMIT): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    let cut = rest.lastIndexOf("\n\n", limit);
    if (cut < limit / 2) cut = rest.lastIndexOf("\n", limit);
    if (cut < limit / 2) cut = rest.lastIndexOf(" ", limit);
    if (cut < limit / 2) cut = limit;
    const amp = rest.lastIndexOf("&", cut - 1);
    if (amp >= 0 && cut - amp < 6 && !rest.slice(amp, cut).includes(";")) cut = amp;
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    if (cut <= 0) cut = limit;
    const head = rest.slice(0, cut).trimEnd();
    if (head) parts.push(head);
    rest = rest.slice(cut).replace(/^\s+/, "");
  }
  if (rest.trim()) parts.push(rest);
  return parts;
}

/** One Slack message: fallback `text` plus Block Kit `blocks`. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** Options of {@link renderReply}. */
export interface RenderOptions {
  /** Adds a "Share in channel" button whose value is this id (ephemeral answers). */
  shareId?: string;
  /** Leaves out the reply's buttons (e.g. a shared copy in the channel). */
  withoutActions?: boolean;
  /** A context line added at the end (e.g. "Shared by …"), already mrkdwn. */
  footer?: string;
}

/**
 * Renders a platform-neutral {@link Reply} as Slack messages: the answer as sections (split at
 * 3,000 characters), numbered sources with links, and the reply's buttons (👍/👎, share).
 * More than 50 blocks become several messages (post them in order in the same thread).
 * Every text from documents or users is escaped with {@link escapeMrkdwn}.
 */
export function renderReply(reply: Reply, opts: RenderOptions = {}): SlackMessage[] {
  const blocks: KnownBlock[] = [];
  const section = (mrkdwn: string) => {
    for (const piece of splitMrkdwn(mrkdwn))
      blocks.push({ type: "section", text: { type: "mrkdwn", text: piece } });
  };
  const body = reply.blocks.length > 0 ? reply.blocks : [{ type: "text" as const, text: reply.text }];
  for (const b of body) {
    if (b.type === "text") {
      if (b.text.trim()) section(escapeMrkdwn(b.text));
    } else if (b.type === "quote") {
      const quoted = escapeMrkdwn(b.text)
        .split("\n")
        .map((l) => `> ${l}`)
        .join("\n");
      section(b.citation ? `${quoted} [${b.citation}]` : quoted);
    } else if (b.type === "list") {
      if (b.items.length > 0) section(b.items.map((i) => `• ${escapeMrkdwn(i)}`).join("\n"));
    }
  }
  if (reply.citations.length > 0) {
    blocks.push({ type: "divider" });
    section(`*Sources*\n${reply.citations.map(renderCitation).join("\n")}`);
  }
  if (opts.footer) blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: opts.footer }] });
  const buttons: Button[] = [];
  if (!opts.withoutActions) {
    for (const a of reply.actions) buttons.push(renderButton(a));
    if (opts.shareId) {
      buttons.push({
        type: "button",
        action_id: "share_in_channel",
        text: { type: "plain_text", text: "Share in channel", emoji: true },
        value: opts.shareId,
        style: "primary",
      });
    }
  }
  for (let i = 0; i < buttons.length; i += MAX_ACTION_ELEMENTS) {
    blocks.push({ type: "actions", elements: buttons.slice(i, i + MAX_ACTION_ELEMENTS) });
  }
  if (blocks.length === 0) section(escapeMrkdwn(reply.text || "…"));

  const fallback = truncate(escapeMrkdwn(reply.text || "…"), FALLBACK_TEXT_LIMIT);
  const messages: SlackMessage[] = [];
  for (let i = 0; i < blocks.length; i += MAX_BLOCKS) {
    messages.push({ text: i === 0 ? fallback : "(continued)", blocks: blocks.slice(i, i + MAX_BLOCKS) });
  }
  return messages;
}

/** Renders a plain notice (errors, confirmations) as one escaped section. */
export function renderNotice(text: string): SlackMessage {
  const escaped = escapeMrkdwn(text);
  return {
    text: truncate(escaped, FALLBACK_TEXT_LIMIT),
    blocks: splitMrkdwn(escaped)
      .slice(0, MAX_BLOCKS)
      .map((t) => ({ type: "section", text: { type: "mrkdwn", text: t } })),
  };
}

function renderCitation(c: Citation): string {
  const title = escapeMrkdwn(c.title || c.uri).replace(/\|/g, "¦");
  const heading = c.heading ? ` · ${escapeMrkdwn(c.heading)}` : "";
  if (/^https?:\/\//i.test(c.uri)) {
    const url = c.uri.replace(/&/g, "&amp;").replace(/</g, "%3C").replace(/>/g, "%3E").replace(/\|/g, "%7C");
    return `${c.n}. <${url}|${title}>${heading}`;
  }
  const where = c.uri && c.uri !== c.title ? ` (${escapeMrkdwn(c.uri)})` : "";
  return `${c.n}. ${title}${where}${heading}`;
}

function renderButton(a: ReplyAction): Button {
  const emoji = a.id === "feedback_up" ? "👍 " : a.id === "feedback_down" ? "👎 " : "";
  const label = a.label.includes("👍") || a.label.includes("👎") ? a.label : `${emoji}${a.label}`;
  return {
    type: "button",
    action_id: a.id.slice(0, 255),
    text: { type: "plain_text", text: truncate(label, 75), emoji: true },
    value: a.value.slice(0, 2000),
  };
}

function truncate(s: string, n: number): string {
  if (s.length <= n) return s;
  const amp = s.lastIndexOf("&", n - 1);
  const cut = amp >= 0 && n - amp < 6 && !s.slice(amp, n).includes(";") ? amp : n - 1;
  return `${s.slice(0, cut)}…`;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
