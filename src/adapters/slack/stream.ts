import type { WebClient } from "@slack/web-api";
import type { AdapterReplyStream } from "../../core/conversation.ts";
import type { Reply } from "../../core/ports.ts";
import type { Logger } from "../../observability/logger.ts";
import { renderReply } from "./format.ts";
import { errorCode } from "./identity.ts";

/** Most characters Slack takes in one `markdown_text` (chat.startStream / appendStream). */
export const STREAM_CHUNK_LIMIT = 12_000;

/** Where a streamed answer goes. */
export interface StreamTarget {
  channel: string;
  threadTs: string;
  /** Outside a DM Slack requires the recipient: the asker and their team. */
  recipientUserId?: string;
  recipientTeamId?: string;
  isDirect: boolean;
}

/** Keeps streamed model text from pinging people or channels (`<!channel>`, `<@U…>`). */
function neutralise(text: string): string {
  return text.replace(/<([!@#])/g, "‹$1");
}

/**
 * A generated answer streamed into a Slack thread with `chat.startStream` (first text),
 * `chat.appendStream` (the rest, each call ≤ 12 000 characters; text arriving while a call is in
 * flight is sent together with the next one) and `chat.stopStream` (adds the sources and buttons
 * as blocks). `assistant.threads.setStatus` shows a status while Atom works. Slack closes a stream
 * left open for about 5 minutes (`message_not_in_streaming_state`): then nothing more is
 * appended, and the message is finished with `chat.update`; the same happens when the final reply
 * is not the streamed text (an extractive fallback). Never appends after stop.
 */
export class SlackReplyStream implements AdapterReplyStream {
  started = false;
  private ts: string | undefined;
  private streamed = "";
  private pending = "";
  private flushing: Promise<void> | undefined;
  /** The stream can no longer take text (closed by Slack, or a call failed). */
  private closed = false;

  constructor(
    private readonly client: WebClient,
    private readonly target: StreamTarget,
    private readonly log: Logger,
  ) {}

  async status(text: string): Promise<void> {
    try {
      await this.client.assistant.threads.setStatus({
        channel_id: this.target.channel,
        thread_ts: this.target.threadTs,
        status: text,
      });
    } catch (err) {
      this.log.debug({ code: errorCode(err) }, "assistant.threads.setStatus failed");
    }
  }

  async append(text: string): Promise<void> {
    if (this.closed || !text) return;
    this.pending += neutralise(text);
    if (!this.flushing) {
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
      });
    }
    await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.pending && !this.closed) {
      const piece = this.pending.slice(0, STREAM_CHUNK_LIMIT);
      this.pending = this.pending.slice(piece.length);
      try {
        if (!this.started) {
          const r = await this.client.chat.startStream({
            channel: this.target.channel,
            thread_ts: this.target.threadTs,
            markdown_text: piece,
            ...(this.target.isDirect
              ? {}
              : {
                  recipient_user_id: this.target.recipientUserId,
                  recipient_team_id: this.target.recipientTeamId,
                }),
          });
          this.ts = r.ts;
          this.started = true;
        } else {
          await this.client.chat.appendStream({
            channel: this.target.channel,
            ts: this.ts!,
            markdown_text: piece,
          });
        }
        this.streamed += piece;
      } catch (err) {
        this.closed = true;
        this.pending = "";
        this.log.info(
          { code: errorCode(err) },
          "streaming the answer stopped; the message is finished at the end",
        );
      }
    }
  }

  async finish(reply: Reply): Promise<void> {
    if (this.flushing) await this.flushing;
    const body = reply.blocks.map((b) => (b.type === "text" ? b.text : "")).join("\n");
    const same = !this.closed && neutralise(body).trim() === this.streamed.trim();
    // Sources and buttons go below the streamed text.
    const tail = renderReply({ ...reply, blocks: [{ type: "text", text: "" }] })[0]!.blocks;
    if (!this.closed) {
      try {
        await this.client.chat.stopStream({
          channel: this.target.channel,
          ts: this.ts!,
          ...(same ? { blocks: tail } : {}),
        });
        if (same) return;
      } catch (err) {
        this.log.info({ code: errorCode(err) }, "chat.stopStream failed; finishing with chat.update");
      }
    }
    this.closed = true;
    const [first] = renderReply(reply);
    await this.client.chat.update({
      channel: this.target.channel,
      ts: this.ts!,
      text: first!.text,
      blocks: first!.blocks,
    });
  }
}
