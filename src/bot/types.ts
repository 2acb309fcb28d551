import type { ChatMessage } from "../core/ports.ts";
import type { Reply } from "./reply.ts";

/** What the person wants. */
export type IntentKind = "help" | "ask" | "search" | "status" | "remember";

export interface Intent {
  kind: IntentKind;
  /** The text the handler works on (question, search terms, note), with the command words removed. */
  query: string;
}

/** Feedback on one answer (👍/👎 buttons). */
export interface FeedbackInput {
  tenantId: string;
  platform: ChatMessage["platform"];
  answerId: string;
  userId: string;
  rating: "up" | "down";
}

/** Adds lines to the `status` reply (e.g. Slack installation health). */
export type StatusContributor = (tenantId: string) => Promise<string[]>;

/** Options of {@link Bot.handle}. */
export interface HandleOptions {
  /**
   * Posts an intermediate reply in the same thread before the final one (e.g. a voice note's
   * transcript). Adapters implement it; when absent, intermediate replies are skipped.
   */
  progress?: (reply: Reply) => Promise<void>;
  /** Answer only from these source ids (e.g. `atom ask --docs <dir>`: that folder and notes). */
  sources?: string[];
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
}
