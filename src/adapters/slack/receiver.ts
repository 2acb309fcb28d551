import crypto from "node:crypto";
import type { App, Receiver, ReceiverEvent } from "@slack/bolt";
import type { Context, Hono } from "hono";
import { safeEqual } from "../../security/crypto.ts";
import type { Logger } from "../../observability/logger.ts";
import { webhookAckSeconds } from "../../observability/metrics.ts";

/** Requests older or newer than this are refused (Slack's replay window, 5 minutes). */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** Largest request body accepted on the Request URL. */
const MAX_BODY_BYTES = 1024 * 1024;
/** When no listener acknowledges in time, answer 200 anyway so Slack does not retry. */
const ACK_FALLBACK_MS = 2500;

/** Why a request failed verification. */
export type SignatureProblem = "missing_headers" | "stale_timestamp" | "bad_signature";

/**
 * Verifies Slack's request signature (https://docs.slack.dev/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature` must equal `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>` under the
 * signing secret, computed over the exact bytes received (never a re-serialised body), and
 * `X-Slack-Request-Timestamp` must be within 5 minutes of `nowSeconds`.
 * @returns null when valid, else the problem.
 */
export function verifySlackSignature(
  secret: string,
  rawBody: Buffer,
  headers: { signature?: string | null; timestamp?: string | null },
  nowSeconds = Math.floor(Date.now() / 1000),
): SignatureProblem | null {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d+$/.test(timestamp)) return "missing_headers";
  if (Math.abs(nowSeconds - Number(timestamp)) > SIGNATURE_WINDOW_SECONDS) return "stale_timestamp";
  const base = Buffer.concat([Buffer.from(`v0:${timestamp}:`, "utf8"), rawBody]);
  const expected = `v0=${crypto.createHmac("sha256", secret).update(base).digest("hex")}`;
  return safeEqual(expected, signature) ? null : "bad_signature";
}

/**
 * Parses a Slack request body: JSON (Events API), `payload=<json>` forms (interactivity), or plain
 * forms (slash commands, `ssl_check`).
 * @throws Error with a short reason when the body is malformed.
 */
export function parseSlackBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes("application/x-www-form-urlencoded")) {
    const form = new URLSearchParams(raw);
    const payload = form.get("payload");
    if (payload !== null) {
      const parsed = JSON.parse(payload) as unknown;
      if (!parsed || typeof parsed !== "object") throw new Error("payload is not an object");
      return parsed as Record<string, unknown>;
    }
    return Object.fromEntries(form.entries());
  }
  const parsed = JSON.parse(raw) as unknown;
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Error("body is not an object");
  return parsed as Record<string, unknown>;
}

/**
 * A Bolt receiver behind Hono: `POST <path>` (default `/slack/events`) takes Events API deliveries,
 * slash commands and interactivity. It verifies the signature over the raw bytes, answers
 * `url_verification` and `ssl_check` itself, hands everything else to `app.processEvent`, and
 * returns the HTTP response as soon as the listener calls `ack()` — the listener's work goes on
 * after the response.
 */
export class HonoSlackReceiver implements Receiver {
  private app?: App;

  constructor(
    private readonly opts: {
      signingSecret: string;
      logger: Logger;
      path?: string;
      /** For tests: the clock used for the timestamp window, seconds. */
      nowSeconds?: () => number;
    },
  ) {}

  /** Called by Bolt with the App this receiver feeds. */
  init(app: App): void {
    this.app = app;
  }

  /** Nothing to start: the Hono server owns the socket. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  /** Mounts the Request URL on `hono`. */
  mount(hono: Hono): void {
    hono.post(this.opts.path ?? "/slack/events", (c) => this.handle(c));
  }

  private async handle(c: Context): Promise<Response> {
    const started = performance.now();
    const done = (res: Response) => {
      webhookAckSeconds.observe(
        { route: "/slack/events", status: String(res.status) },
        (performance.now() - started) / 1000,
      );
      return res;
    };
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > MAX_BODY_BYTES) return done(c.json({ error: "request body too large" }, 413));
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (raw.length > MAX_BODY_BYTES) return done(c.json({ error: "request body too large" }, 413));

    const problem = verifySlackSignature(
      this.opts.signingSecret,
      raw,
      { signature: c.req.header("x-slack-signature"), timestamp: c.req.header("x-slack-request-timestamp") },
      this.opts.nowSeconds?.() ?? Math.floor(Date.now() / 1000),
    );
    if (problem) {
      this.opts.logger.warn({ problem }, "slack request refused: signature verification failed");
      return done(c.json({ error: "invalid request signature" }, 401));
    }

    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(raw.toString("utf8"), c.req.header("content-type"));
    } catch (err) {
      this.opts.logger.warn({ reason: (err as Error).message }, "slack request refused: malformed body");
      return done(c.json({ error: "malformed body" }, 400));
    }
    if (body.ssl_check) return done(c.body(null, 200));
    if (body.type === "url_verification") {
      return done(c.json({ challenge: typeof body.challenge === "string" ? body.challenge : "" }));
    }
    const app = this.app;
    if (!app) return done(c.json({ error: "slack app not ready" }, 503));

    const retryNumHeader = c.req.header("x-slack-retry-num");
    const retryNum =
      retryNumHeader !== undefined && /^\d+$/.test(retryNumHeader) ? Number(retryNumHeader) : undefined;
    const retryReason = c.req.header("x-slack-retry-reason");

    const response = await new Promise<Response>((resolve) => {
      let settled = false;
      const settle = (res: Response) => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        resolve(res);
        return true;
      };
      const timer = setTimeout(() => {
        if (settle(new Response(null, { status: 200 }))) {
          this.opts.logger.warn("slack request not acknowledged in time; answered 200");
        }
      }, ACK_FALLBACK_MS);
      const event: ReceiverEvent = {
        body,
        retryNum,
        retryReason,
        ack: async (reply?: unknown) => {
          if (!settle(toResponse(reply))) this.opts.logger.debug("slack ack after the response was sent");
        },
      };
      app
        .processEvent(event)
        .catch((err: unknown) => this.opts.logger.error({ err }, "slack event processing failed"))
        .finally(() => settle(new Response(null, { status: 200 })));
    });
    return done(response);
  }
}

/** Builds the HTTP response of `ack(reply)`: nothing → empty 200; string → text; object → JSON. */
function toResponse(reply: unknown): Response {
  if (reply === undefined || reply === null || reply === "") return new Response(null, { status: 200 });
  if (typeof reply === "string") {
    return new Response(reply, { status: 200, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  return new Response(JSON.stringify(reply), {
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
