import crypto from "node:crypto";
import { TEST_SECRETS } from "./secrets.ts";

/**
 * Signed Slack deliveries for tests and benchmarks: builds Events API, slash command and
 * interactivity bodies the way Slack sends them, signs them (`X-Slack-Signature` =
 * `v0=` HMAC-SHA256 of `v0:<ts>:<raw body>`), and POSTs them to Atom's Request URL.
 */

/** Signing secret used by tests unless they pick their own. */
export const TEST_SIGNING_SECRET = TEST_SECRETS.slackSigningSecret;

/** Signature headers for `rawBody` at `timestamp` (seconds; default now). */
export function signSlackBody(
  secret: string,
  rawBody: string | Buffer,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const h = crypto.createHmac("sha256", secret);
  h.update(`v0:${timestamp}:`);
  h.update(rawBody);
  return { "x-slack-request-timestamp": String(timestamp), "x-slack-signature": `v0=${h.digest("hex")}` };
}

/** Options of a signed delivery. */
export interface DeliveryOptions {
  secret?: string;
  /** Default: JSON for strings starting with `{`, else form-urlencoded. */
  contentType?: string;
  /** Sets `X-Slack-Retry-Num` (and `X-Slack-Retry-Reason: http_timeout`). */
  retryNum?: number;
  /** Signature timestamp in seconds (default now). */
  timestamp?: number;
  headers?: Record<string, string>;
}

/** The HTTP answer to a delivery, with the time to the response headers. */
export interface DeliveryResult {
  status: number;
  text: string;
  headers: Headers;
  ms: number;
}

/** POSTs `rawBody` exactly as given (signed over these bytes) to `url`. */
export async function deliverSigned(
  url: string,
  rawBody: string,
  opts: DeliveryOptions = {},
): Promise<DeliveryResult> {
  const secret = opts.secret ?? TEST_SIGNING_SECRET;
  const contentType =
    opts.contentType ??
    (rawBody.trimStart().startsWith("{") ? "application/json" : "application/x-www-form-urlencoded");
  const headers: Record<string, string> = {
    "content-type": contentType,
    ...signSlackBody(secret, rawBody, opts.timestamp),
    ...opts.headers,
  };
  if (opts.retryNum !== undefined) {
    headers["x-slack-retry-num"] = String(opts.retryNum);
    headers["x-slack-retry-reason"] = "http_timeout";
  }
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers, body: rawBody });
  const ms = performance.now() - t0;
  return { status: res.status, text: await res.text(), headers: res.headers, ms };
}

/** Delivers an Events API payload (JSON) to `<baseUrl>/slack/events`. */
export function deliverEvent(
  baseUrl: string,
  payload: unknown,
  opts: DeliveryOptions = {},
): Promise<DeliveryResult> {
  return deliverSigned(`${baseUrl}/slack/events`, JSON.stringify(payload), {
    ...opts,
    contentType: "application/json",
  });
}

let seq = 0;
/** A unique Slack-style message timestamp (`"1717001234.000123"`). */
export function nextTs(): string {
  seq += 1;
  const now = Math.floor(Date.now() / 1000);
  return `${now}.${String(seq).padStart(6, "0")}`;
}

/** Wraps an inner event the way the Events API delivers it (`type: "event_callback"`). */
export function eventCallback(p: {
  teamId: string;
  event: Record<string, unknown>;
  eventId?: string;
  apiAppId?: string;
  botUserId?: string;
}): Record<string, unknown> {
  seq += 1;
  return {
    token: TEST_SECRETS.slackVerificationToken,
    team_id: p.teamId,
    api_app_id: p.apiAppId ?? "AATOM0001",
    event: p.event,
    type: "event_callback",
    event_id: p.eventId ?? `Ev${Date.now().toString(36).toUpperCase()}${seq}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: p.teamId,
        user_id: p.botUserId ?? "UBOT",
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-eyJldCI6ImFwcF9tZW50aW9uIn0-${seq}`,
  };
}

/** An `app_mention` event: `<@bot> text` in `channel`. */
export function appMention(p: {
  botUserId: string;
  text: string;
  channel?: string;
  user?: string;
  ts?: string;
  threadTs?: string;
  teamId?: string;
  files?: unknown[];
}): Record<string, unknown> {
  const ts = p.ts ?? nextTs();
  return {
    type: "app_mention",
    user: p.user ?? "UASKER1",
    text: `<@${p.botUserId}> ${p.text}`,
    ts,
    ...(p.threadTs ? { thread_ts: p.threadTs } : {}),
    channel: p.channel ?? "CPUBLIC1",
    event_ts: ts,
    team: p.teamId ?? "T0",
    ...(p.files ? { files: p.files } : {}),
  };
}

/** A `message` event (channel or DM; `channelType` "im" for DMs). */
export function messageEvent(p: {
  text: string;
  channel?: string;
  channelType?: "channel" | "group" | "im" | "mpim";
  user?: string;
  ts?: string;
  threadTs?: string;
  subtype?: string;
  botId?: string;
  files?: unknown[];
  teamId?: string;
}): Record<string, unknown> {
  const ts = p.ts ?? nextTs();
  return {
    type: "message",
    ...(p.subtype ? { subtype: p.subtype } : {}),
    ...(p.botId ? { bot_id: p.botId } : { user: p.user ?? "UASKER1" }),
    text: p.text,
    ts,
    ...(p.threadTs ? { thread_ts: p.threadTs } : {}),
    channel: p.channel ?? (p.channelType === "im" ? "DDIRECT1" : "CPUBLIC1"),
    channel_type: p.channelType ?? "channel",
    event_ts: ts,
    team: p.teamId ?? "T0",
    ...(p.files ? { files: p.files } : {}),
  };
}

/** A Slack file object as it appears in `event.files[]`. */
export function slackFile(p: {
  id: string;
  url: string;
  name?: string;
  mimetype?: string;
  filetype?: string;
  subtype?: string;
  size?: number;
  durationMs?: number;
}): Record<string, unknown> {
  return {
    id: p.id,
    created: Math.floor(Date.now() / 1000),
    name: p.name ?? `${p.id}.mp4`,
    title: p.name ?? p.id,
    mimetype: p.mimetype ?? "video/mp4",
    filetype: p.filetype ?? "mp4",
    ...(p.subtype ? { subtype: p.subtype } : {}),
    size: p.size ?? 1000,
    mode: "hosted",
    url_private: p.url,
    url_private_download: p.url,
    ...(p.durationMs !== undefined ? { duration_ms: p.durationMs } : {}),
  };
}

/** A slash command body (form-urlencoded) as Slack posts it. */
export function slashCommandBody(p: {
  teamId: string;
  text: string;
  responseUrl: string;
  command?: string;
  userId?: string;
  channelId?: string;
  channelName?: string;
  triggerId?: string;
}): string {
  seq += 1;
  return new URLSearchParams({
    token: TEST_SECRETS.slackVerificationToken,
    team_id: p.teamId,
    team_domain: "example",
    channel_id: p.channelId ?? "CPUBLIC1",
    channel_name: p.channelName ?? "general",
    user_id: p.userId ?? "UASKER1",
    user_name: "asker",
    command: p.command ?? "/atom",
    text: p.text,
    api_app_id: "AATOM0001",
    is_enterprise_install: "false",
    response_url: p.responseUrl,
    trigger_id: p.triggerId ?? `${Date.now()}.${seq}.abcdef`,
  }).toString();
}

/** A `block_actions` interactivity body (form field `payload`) for a button press. */
export function blockActionsBody(p: {
  teamId: string;
  actionId: string;
  value: string;
  responseUrl: string;
  userId?: string;
  channelId?: string;
  messageTs?: string;
}): string {
  const payload = {
    type: "block_actions",
    user: { id: p.userId ?? "UASKER1", username: "asker", team_id: p.teamId },
    api_app_id: "AATOM0001",
    token: TEST_SECRETS.slackVerificationToken,
    container: {
      type: "message",
      message_ts: p.messageTs ?? "1718000001.000001",
      channel_id: p.channelId ?? "CPUBLIC1",
    },
    trigger_id: `${Date.now()}.trigger`,
    team: { id: p.teamId, domain: "example" },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: p.channelId ?? "CPUBLIC1", name: "general" },
    response_url: p.responseUrl,
    actions: [
      {
        action_id: p.actionId,
        block_id: "atom_actions",
        text: { type: "plain_text", text: "button", emoji: true },
        value: p.value,
        type: "button",
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
