/** One numbered source behind an answer. */
export interface Citation {
  /** 1-based number used as `[n]` in the answer text. */
  n: number;
  title: string;
  /** Link or path of the document (for a local folder: the path relative to that folder). */
  uri: string;
  /** Heading path of the cited passage, e.g. "Travel > Meals", or null at the top of a document. */
  heading: string | null;
  /** The quoted passage (plain text). */
  snippet: string;
  /** Source id the document came from, e.g. "folder:handbook". */
  source?: string;
  /** Id of the document within its source (with `source`, its identity in memory). */
  docId?: string;
}

/** A button under a reply. `value` comes back to the bot when pressed. */
export interface ReplyAction {
  id: "feedback_up" | "feedback_down" | "share_in_channel" | string;
  label: string;
  value: string;
}

/** A block of a reply: a paragraph, a quote of a passage, or a list item. */
export type ReplyBlock =
  | { type: "text"; text: string }
  | { type: "quote"; text: string; citation?: number }
  | { type: "list"; items: string[] };

/**
 * The platform-neutral answer of the bot. Adapters render it (Slack Block Kit, Teams Adaptive
 * Card, terminal text). All text is plain text: adapters escape it for their markup.
 */
export interface Reply {
  /** What kind of handler produced it. */
  intent: string;
  /** Plain-text rendering of the whole reply (fallback text, terminal). */
  text: string;
  /** Structured body; adapters that can render richer output use this instead of `text`. */
  blocks: ReplyBlock[];
  citations: Citation[];
  /** For `ask`: whether memory held a supporting passage. Always true for other intents. */
  found: boolean;
  /** For `ask`: true when a model wrote the answer from the passages (else it is extractive). */
  generated?: boolean;
  /** Buttons (feedback, share). */
  actions: ReplyAction[];
  /** `thread` = a normal reply in the thread; `ephemeral` = only the asker sees it. */
  visibility: "thread" | "ephemeral";
  /** Id under which question/answer/sources are stored, for feedback. */
  answerId?: string;
  /**
   * Platform user id of the person who re-posted this reply to the conversation ("Share in
   * channel"); adapters show who shared it.
   */
  sharedBy?: string;
}

/** Builds a reply with defaults for the optional parts. */
export function makeReply(p: Partial<Reply> & Pick<Reply, "intent" | "text">): Reply {
  return {
    blocks: p.blocks ?? [{ type: "text", text: p.text }],
    citations: [],
    found: true,
    actions: [],
    visibility: "thread",
    ...p,
  };
}

/** Names of connected source kinds, shown with a citation's title ("Budget · OneDrive"). */
const SOURCE_NAMES: Record<string, string> = { gdrive: "Google Drive", onedrive: "OneDrive" };

/**
 * A citation title that names its source when it comes from a connected store (Google Drive,
 * OneDrive); local folders and notes keep the bare title.
 */
export function citedTitle(title: string, source: string | undefined): string {
  const name = SOURCE_NAMES[source?.split(":")[0] ?? ""];
  return name ? `${title} · ${name}` : title;
}
