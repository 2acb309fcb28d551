/**
 * Streaming for platforms whose updates each carry the whole text so far (Microsoft Teams, "Stream
 * bot messages": https://learn.microsoft.com/microsoftteams/platform/bots/streaming-ux). The core
 * owns the protocol's logic — what to send and when — and the adapter only posts the activities
 * ({@link CumulativeStreamTransport}):
 *
 * 1. `status("searching…")` → an informative update (at most `maxInformativeChars`);
 * 2. model text → streaming updates, each the cumulative text, numbered 1, 2, 3… across the
 *    stream; the id the platform gives the first update is the stream id every later one names;
 * 3. the final reply → one final message (sources and buttons) naming the stream.
 *
 * At most one update is in flight and each post waits `minIntervalMs` after the previous one was
 * answered (Teams: about one request per second); text arriving in between is sent together with the next update, so `append` never
 * waits for the platform. Text past `maxTextChars` is not streamed (the final message carries it).
 * Any failed update ends streaming; the reply then goes out as one ordinary message — as it does
 * when the final message naming the stream is refused.
 */
import type { AdapterReplyStream } from "./conversation.ts";
import type { Reply } from "./ports.ts";
import type { Logger } from "../observability/logger.ts";

/** One intermediate update of a cumulative stream. */
export interface StreamUpdate {
  /** `informative`: a progress line; `streaming`: the answer so far. */
  kind: "informative" | "streaming";
  /** The text: the progress line, or the whole answer so far (never only the new part). */
  text: string;
  /** 1 for the first update of the stream, then +1 per update. */
  sequence: number;
  /** The stream's id (the id the platform gave the first update); absent on the first update. */
  streamId?: string;
}

/** What an adapter posts for a cumulative stream. Every method may throw; the stream handles it. */
export interface CumulativeStreamTransport {
  /** Posts an update. @returns the id the platform gave it (the stream id, for the first). */
  update(u: StreamUpdate): Promise<string>;
  /** Posts the final message of the stream `streamId`: the reply rendered in full. */
  final(reply: Reply, streamId: string): Promise<void>;
  /** Posts the reply as one ordinary message (the stream broke or the final message was refused). */
  single(reply: Reply): Promise<void>;
}

/** The platform's documented limits. */
export interface CumulativeStreamLimits {
  /** Least time between two posts of one stream, ms (Teams: 1 000). */
  minIntervalMs: number;
  /** Longest informative text, characters (Teams: 1 000). */
  maxInformativeChars: number;
  /** Longest streamed text, characters; beyond it the text waits for the final message. */
  maxTextChars: number;
}

/** A {@link AdapterReplyStream} over a {@link CumulativeStreamTransport}; see the module comment. */
export class CumulativeReplyStream implements AdapterReplyStream {
  private streamId: string | undefined;
  private sequence = 0;
  private text = "";
  private sentText = "";
  private informative: string | undefined;
  private broken = false;
  private finishing = false;
  private lastPostAt = 0;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly transport: CumulativeStreamTransport,
    private readonly limits: CumulativeStreamLimits,
    private readonly log: Logger,
    /** Called once, when the first update was accepted (e.g. to stop a typing indicator). */
    private readonly onStart?: () => void,
  ) {}

  /** Whether the platform accepted the first update (the reply then goes out through {@link finish}). */
  get started(): boolean {
    return this.streamId !== undefined;
  }

  async status(text: string): Promise<void> {
    if (this.broken || this.finishing || this.text) return;
    this.informative = text.slice(0, this.limits.maxInformativeChars);
    this.kick();
  }

  async append(text: string): Promise<void> {
    if (this.broken || this.finishing || !text) return;
    this.text += text;
    this.kick();
  }

  async finish(reply: Reply): Promise<void> {
    this.finishing = true;
    this.wake?.();
    if (this.loop) await this.loop;
    if (this.streamId !== undefined && !this.broken) {
      try {
        await this.waitTurn();
        await this.transport.final(reply, this.streamId);
        return;
      } catch (err) {
        this.log.info(
          { err: describe(err) },
          "the streamed answer's final message was refused; sending it as one message",
        );
      }
    }
    await this.transport.single(reply);
  }

  /** Starts the sender if it is not running. */
  private kick(): void {
    // A running sender picks the newest text up after its wait.
    if (this.loop) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      // Text that arrived while the loop was ending.
      if (!this.finishing && !this.broken && this.hasWork()) this.kick();
    });
  }

  private hasWork(): boolean {
    return (
      this.informative !== undefined ||
      (this.text !== this.sentText && this.text.length <= this.limits.maxTextChars)
    );
  }

  /** Sends the newest state, one post at a time, at most one per `minIntervalMs`. */
  private async run(): Promise<void> {
    while (!this.broken && !this.finishing && this.hasWork()) {
      await this.waitTurn();
      if (this.broken || this.finishing) return;
      const update: StreamUpdate =
        this.informative !== undefined && !this.text
          ? {
              kind: "informative",
              text: this.informative,
              sequence: this.sequence + 1,
              streamId: this.streamId,
            }
          : { kind: "streaming", text: this.text, sequence: this.sequence + 1, streamId: this.streamId };
      this.informative = undefined;
      if (
        update.kind === "streaming" &&
        (update.text === this.sentText || update.text.length > this.limits.maxTextChars)
      )
        continue;
      try {
        const id = await this.transport.update(update).finally(() => {
          // Counted from the answer: the next post then reaches the platform a full interval later.
          this.lastPostAt = Date.now();
        });
        this.sequence = update.sequence;
        if (update.kind === "streaming") this.sentText = update.text;
        if (this.streamId === undefined) {
          if (!id) throw new Error("the platform gave the first update no id");
          this.streamId = id;
          this.onStart?.();
        }
      } catch (err) {
        this.broken = true;
        this.log.info(
          { err: describe(err) },
          "streaming the answer stopped; it is sent as one message at the end",
        );
      }
    }
  }

  /** Waits until `minIntervalMs` passed since the last post (or `finish` is called). */
  private async waitTurn(): Promise<void> {
    const wait = this.lastPostAt + this.limits.minIntervalMs - Date.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      // finish() only wakes the loop early; the final message itself still waits its turn.
      this.wake = this.finishing ? undefined : done;
    });
    this.wake = undefined;
  }
}

/** A secret-free one-line description of a transport error. */
function describe(err: unknown): string {
  const e = err as { statusCode?: number; message?: string };
  return `${e?.statusCode ?? ""} ${String(e?.message ?? err).split("\n")[0]}`.trim().slice(0, 200);
}
