import type { ChatAction, ChatMessage } from "../core/ports.ts";
import type { HandlerContext } from "./handlers/context.ts";
import type { Reply } from "./reply.ts";

/** What the person wants: a built-in intent, or the `kind` of a registered {@link CommandSpec}. */
export type IntentKind = "help" | "ask" | "search" | "status" | "remember" | "smalltalk" | (string & {});

export interface Intent {
  kind: IntentKind;
  /** The text the handler works on (question, search terms, note), with the command words removed. */
  query: string;
  /** Named parts a command's rule parsed out of the text (e.g. `{ provider: "drive" }`). */
  args?: Record<string, string>;
}

/**
 * A chat command a feature module adds to the bot (connections, keys, workflows, …) without
 * editing the core's routing: its rule is tried after `help` and before the built-in
 * status/remember/search/question rules, in registration order.
 */
export interface CommandSpec {
  /** Intent kind of the command, e.g. `connect` or `workflow.create`; unique per bot. */
  kind: string;
  /** Returns the intent when `text` (normalised: one space, trimmed) is this command, else undefined. */
  match(text: string): Intent | undefined;
  /** Produces the reply. Errors become the core's apologetic reply (logged). */
  handle(ctx: HandlerContext): Promise<Reply>;
  /** Lines this command adds to `help`, e.g. "Connect Google Drive: “connect drive” — …". */
  help?: string[];
}

/**
 * Handles button presses whose `actionId` starts with `prefix` (e.g. `workflow:`), registered by
 * the feature that rendered the buttons.
 */
export interface ActionHandlerSpec {
  prefix: string;
  /**
   * @returns a reply for the person who pressed (rendered privately by the adapter where the
   *   platform allows), or undefined for none.
   */
  handle(action: ChatAction): Promise<Reply | undefined>;
}

/** Feedback on one answer (👍/👎 buttons). */
export interface FeedbackInput {
  tenantId: string;
  platform: ChatMessage["platform"];
  answerId: string;
  userId: string;
  rating: "up" | "down";
}

/**
 * Adds lines to the `status` reply (e.g. Slack installation health). `asker` is the message that
 * asked, so a contributor can show private details only in a reply the asker alone sees.
 */
export type StatusContributor = (tenantId: string, asker?: ChatMessage) => Promise<string[]>;

/** Options of {@link Bot.handle}. */
export interface HandleOptions {
  /**
   * Posts an intermediate reply in the same thread before the final one (e.g. a voice note's
   * transcript). Adapters implement it; when absent, intermediate replies are skipped.
   */
  progress?: (reply: Reply) => Promise<void>;
  /** Answer only from these source ids (e.g. `atom ask --docs <dir>`: that folder and notes). */
  sources?: string[];
  /** Where a generated answer streams while it is written (adapters that can stream). */
  stream?: import("../core/ports.ts").ReplyStream;
}

/** The platform-neutral core every adapter talks to. */
export interface Bot {
  /**
   * Classifies and answers one message. Stores the user turn and the answer as thread turns, so
   * follow-ups in the same thread see earlier turns. Never throws for bad input: problems become
   * a reply.
   */
  handle(msg: ChatMessage, opts?: HandleOptions): Promise<Reply>;
  /**
   * Stores 👍/👎 with the question, answer and sources of `answerId`.
   * @returns false when that user already rated that answer (the first rating stays) or the answer is unknown.
   */
  recordFeedback(input: FeedbackInput): Promise<boolean>;
  /**
   * Whether Atom already took part in this thread (it has stored turns there), so that a plain
   * follow-up message without a mention is meant for Atom.
   */
  isInThread(ref: {
    tenantId: string;
    platform: ChatMessage["platform"];
    channelId: string;
    threadId: string;
  }): Promise<boolean>;
  /** Registers extra status lines. */
  addStatusContributor(fn: StatusContributor): void;
  /** Adds a chat command (see {@link CommandSpec}). @throws when its kind is already registered. */
  registerCommand(spec: CommandSpec): void;
  /** Adds a button handler (see {@link ActionHandlerSpec}). @throws when its prefix is already registered. */
  registerActionHandler(spec: ActionHandlerSpec): void;
  /**
   * Routes a button press to the handler registered for its `actionId` prefix (feedback buttons
   * are built in). Never throws: a failing handler becomes an apologetic reply.
   * @returns the reply for the presser, or undefined when nothing needs saying or no handler matches.
   */
  handleAction(action: ChatAction): Promise<Reply | undefined>;
}
