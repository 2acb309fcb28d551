/**
 * Renders Atom's platform-neutral {@link Reply} as a Teams message: an Adaptive Card (answer text,
 * quoted passages, numbered sources with links, 👍/👎 `Action.Execute` buttons) plus Teams'
 * AI-generated-content label and citation entities.
 * Adaptive Cards in Teams: https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-reference
 * AI label and citations: https://learn.microsoft.com/microsoftteams/platform/bots/how-to/bot-messages-ai-generated-content
 */
import type { Activity, Attachment } from "botbuilder";
import type { Citation, Reply } from "../../bot/reply.ts";

/** `verb` of Atom's `Action.Execute` buttons; `data.atomAction` says which button. */
export const CARD_VERB = "atom";

/** Data carried by a card button and echoed back by Teams in the invoke. */
export interface CardActionData {
  atomAction: string;
  value: string;
  answerId?: string;
}

const MAX_TEXT = 20_000;
const ABSTRACT_MAX = 160;

/** Whether a citation link can be rendered as a clickable link. */
function isWebLink(uri: string): boolean {
  return /^https?:\/\//i.test(uri);
}

/** Escapes characters Adaptive Card markdown would interpret in a link label. */
function linkLabel(s: string): string {
  return s.replace(/[[\]]/g, (m) => `\\${m}`);
}

function textBlock(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "TextBlock", text: text.slice(0, MAX_TEXT), wrap: true, ...extra };
}

function citationLine(c: Citation): string {
  // Heading paths often start with the document title ("Spending > Travel"): don't repeat it.
  const heading = c.heading?.startsWith(c.title)
    ? c.heading.slice(c.title.length).replace(/^\s*[>›]\s*/, "")
    : c.heading;
  const label = heading ? `${c.title} › ${heading.replace(/\s+>\s+/g, " › ")}` : c.title;
  if (isWebLink(c.uri)) return `${c.n}. [${linkLabel(label)}](${c.uri})`;
  return `${c.n}. ${label} — ${c.uri}`;
}

/** Builds the Adaptive Card (schema 1.5, the newest Teams renders) for a reply. */
export function replyCard(reply: Reply): Record<string, unknown> {
  const body: Record<string, unknown>[] = [];
  for (const b of reply.blocks.length > 0 ? reply.blocks : [{ type: "text" as const, text: reply.text }]) {
    if (b.type === "text") body.push(textBlock(b.text));
    else if (b.type === "quote")
      body.push({
        type: "Container",
        style: "emphasis",
        items: [textBlock(`“${b.text}”${b.citation ? ` [${b.citation}]` : ""}`, { isSubtle: true })],
      });
    else if (b.type === "list") body.push(textBlock(b.items.map((i) => `- ${i}`).join("\r")));
  }
  if (reply.citations.length > 0) {
    body.push(textBlock("Sources", { weight: "Bolder", spacing: "Medium", separator: true }));
    for (const c of reply.citations) body.push(textBlock(citationLine(c), { spacing: "Small" }));
  }
  const actions = reply.actions.map((a) => ({
    type: "Action.Execute",
    title: a.label,
    verb: CARD_VERB,
    data: {
      atomAction: a.id,
      value: a.value,
      ...(reply.answerId ? { answerId: reply.answerId } : {}),
    } satisfies CardActionData,
  }));
  return {
    type: "AdaptiveCard",
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    version: "1.5",
    body,
    ...(actions.length > 0 ? { actions } : {}),
    msteams: { width: "Full" },
  };
}

/**
 * Teams' `https://schema.org/Message` entity: the "AI generated" label and one `Claim` per
 * citation (`position` = the `[n]` number; `abstract` at most 160 characters; `url` only for web links).
 */
export function aiEntity(reply: Reply): { type: string } & Record<string, unknown> {
  return {
    type: "https://schema.org/Message",
    "@type": "Message",
    "@context": "https://schema.org",
    "@id": "",
    additionalType: ["AIGeneratedContent"],
    citation: reply.citations.map((c) => ({
      "@type": "Claim",
      position: c.n,
      appearance: {
        "@type": "DigitalDocument",
        name: c.title.slice(0, 80),
        ...(isWebLink(c.uri) ? { url: c.uri } : {}),
        abstract: c.snippet.replace(/\s+/g, " ").trim().slice(0, ABSTRACT_MAX),
        keywords: c.heading ? [c.heading.slice(0, 28)] : [],
      },
    })),
  };
}

/** The outgoing message activity for a reply (card + AI entity; `summary` is the notification text). */
export function replyActivity(reply: Reply): Partial<Activity> {
  const attachment: Attachment = {
    contentType: "application/vnd.microsoft.card.adaptive",
    content: replyCard(reply),
  };
  return {
    type: "message",
    summary: reply.text.slice(0, 200),
    attachments: [attachment],
    entities: [aiEntity(reply)],
  };
}

/** Parses the data of an Atom card button from an invoke / submit value; null when it is not one. */
export function parseCardAction(value: unknown): CardActionData | null {
  if (!value || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  const data = (v.action && typeof v.action === "object" ? (v.action as Record<string, unknown>).data : v) as
    | Record<string, unknown>
    | undefined;
  if (!data || typeof data.atomAction !== "string") return null;
  return {
    atomAction: data.atomAction,
    value: typeof data.value === "string" ? data.value : "",
    answerId: typeof data.answerId === "string" ? data.answerId : undefined,
  };
}
