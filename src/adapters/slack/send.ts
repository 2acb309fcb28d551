import { webApi } from "@slack/bolt";
import { LRUCache } from "lru-cache";
import { PermanentJobError } from "../../core/worker.ts";
import type { Logger } from "../../observability/logger.ts";
import type { SlackCredentials } from "./credentials.ts";
import type { SlackMessage } from "./format.ts";
import { AUTH_ERRORS, describeApiError, errorCode } from "./identity.ts";

/**
 * Web API errors that another attempt cannot fix: the job goes to the dead-letter state with the
 * code (https://docs.slack.dev/reference/methods/chat.postMessage#errors).
 */
const PERMANENT_ERRORS = new Set([
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "thread_not_found",
  "invalid_blocks",
  "invalid_arguments",
  "msg_too_long",
  "no_text",
  "restricted_action",
  "cannot_reply_to_message",
  "user_not_in_channel",
  "missing_scope",
  "message_not_found",
]);

/** Emoji shown on the question while Atom works on it. */
export const WORKING_REACTION = "hourglass_flowing_sand";

/** Where a reply goes. */
export interface SlackDestination {
  tenantId: string;
  token: string;
  channel: string;
  /** Thread root ts; undefined posts at the channel root. */
  threadTs?: string;
  /** Posts privately to this user (chat.postEphemeral) instead of to everyone. */
  ephemeralUser?: string;
}

/**
 * Posting to Slack: one WebClient per token (bounded LRU; each retries 429 after `Retry-After`
 * and network errors), messages in a thread, ephemeral messages, reactions, `response_url`
 * answers and private file downloads. Failures are classified for the job worker: a refused token
 * marks the workspace broken and, like other permanent errors, throws {@link PermanentJobError};
 * anything else throws a plain error (retried with backoff).
 */
export class SlackSender {
  private readonly clients = new LRUCache<string, webApi.WebClient>({ max: 500 });

  constructor(
    private readonly clientOptions: webApi.WebClientOptions,
    private readonly credentials: SlackCredentials,
    private readonly log: Logger,
  ) {}

  /** The WebClient of a token. */
  client(token: string): webApi.WebClient {
    let c = this.clients.get(token);
    if (!c) {
      c = new webApi.WebClient(token, this.clientOptions);
      this.clients.set(token, c);
    }
    return c;
  }

  /**
   * Posts messages in order. @returns the ts of the first message.
   * @throws PermanentJobError or Error (see the class comment).
   */
  async post(to: SlackDestination, messages: SlackMessage[]): Promise<string | undefined> {
    const client = this.client(to.token);
    let first: string | undefined;
    for (const m of messages) {
      try {
        if (to.ephemeralUser) {
          const r = await client.chat.postEphemeral({
            channel: to.channel,
            user: to.ephemeralUser,
            thread_ts: to.threadTs,
            text: m.text,
            blocks: m.blocks,
          });
          first ??= r.message_ts;
        } else {
          const r = await client.chat.postMessage({
            channel: to.channel,
            thread_ts: to.threadTs,
            text: m.text,
            blocks: m.blocks,
            unfurl_links: false,
            unfurl_media: false,
          });
          first ??= r.ts;
        }
      } catch (err) {
        throw await this.classify(
          to.tenantId,
          err,
          to.ephemeralUser ? "chat.postEphemeral" : "chat.postMessage",
          {
            channel: to.channel,
            threadTs: to.threadTs,
          },
        );
      }
    }
    return first;
  }

  /** Adds or removes the working reaction (failures are only logged: it is decoration). */
  async react(
    tenantId: string,
    token: string,
    method: "add" | "remove",
    channel: string,
    ts: string,
  ): Promise<void> {
    try {
      await this.client(token).reactions[method]({ channel, timestamp: ts, name: WORKING_REACTION });
    } catch (err) {
      const code = errorCode(err);
      if (code && AUTH_ERRORS.has(code)) await this.credentials.markBroken(tenantId, code);
      this.log.debug({ code }, "working reaction failed");
    }
  }

  /**
   * POSTs a JSON message to a `response_url`
   * (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses).
   * @throws Error on a non-2xx answer or a network error (retried by the job).
   */
  async respond(url: string, body: Record<string, unknown>): Promise<void> {
    if (!/^https?:\/\//.test(url)) throw new PermanentJobError("response_url is not an http(s) URL");
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 404 || res.status === 410) {
      throw new PermanentJobError(`response_url answered HTTP ${res.status} (expired)`);
    }
    if (!res.ok) throw new Error(`response_url answered HTTP ${res.status}`);
  }

  /** Turns a Web API failure into the error the job worker acts on (and logs it once). */
  private async classify(
    tenantId: string,
    err: unknown,
    method: string,
    where: { channel: string; threadTs?: string },
  ): Promise<Error> {
    const code = errorCode(err);
    if (code && AUTH_ERRORS.has(code)) {
      this.log.error({ tenantId, code, method }, "slack token rejected; installation marked broken");
      await this.credentials.markBroken(tenantId, code).catch(() => {});
      return new PermanentJobError(`Slack refused the token (${code})`);
    }
    if (code && PERMANENT_ERRORS.has(code)) {
      if (code === "thread_not_found") {
        this.log.warn(where, "thread_not_found: reply dropped, not posted to the channel root");
      } else {
        this.log.warn({ ...where, code, method }, "slack refused the message");
      }
      return new PermanentJobError(`Slack refused ${method} (${code})`);
    }
    return new Error(`${method} failed (${describeApiError(err)})`);
  }
}

/**
 * Downloads a Slack file with the installation's bot token (`Authorization: Bearer`). The token
 * is only sent to Slack's own hosts (or the configured SLACK_API_URL host). Slack answers a
 * missing or wrong token with an HTML login page and status 200: that is an error here.
 * @throws Error with a short reason (never the token).
 */
export async function downloadFile(url: string, token: string, slackApiUrl: string): Promise<Buffer> {
  const target = new URL(url);
  const api = new URL(slackApiUrl);
  const trusted =
    target.hostname === "slack.com" || target.hostname.endsWith(".slack.com") || target.host === api.host;
  if (!trusted) throw new Error(`refusing to send the Slack token to ${target.host}`);
  const res = await fetch(target, { headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) {
    await res.arrayBuffer().catch(() => undefined);
    throw new Error(`Slack file download failed: HTTP ${res.status}`);
  }
  const type = res.headers.get("content-type") ?? "";
  const bytes = Buffer.from(await res.arrayBuffer());
  if (type.includes("text/html")) {
    throw new Error("Slack returned a web page instead of the file (is the files:read scope granted?)");
  }
  return bytes;
}
