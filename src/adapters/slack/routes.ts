import crypto from "node:crypto";
import { type Context, Hono } from "hono";
import type { Logger } from "../../observability/logger.ts";
import { observeWebhook } from "../../observability/metrics.ts";
import { safeEqual } from "../../security/crypto.ts";
import type { DeliveryKind, IntakeResult } from "./intake.ts";

/** Requests older or newer than this are refused (Slack's replay window, 5 minutes). */
export const SIGNATURE_WINDOW_SECONDS = 300;
/** Largest request body accepted on the Request URL. */
const MAX_BODY_BYTES = 1024 * 1024;

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
 * Parses a verified Slack request body by its declared content type: `application/json` (Events
 * API), `application/x-www-form-urlencoded` with a `payload` field (interactivity) or without
 * (slash commands, `ssl_check`). Anything else is refused: Slack never sends it.
 * @throws Error with a short reason when the body does not match its content type.
 */
export function parseSlackBody(
  raw: string,
  contentType: string | undefined,
): { kind: DeliveryKind | "ssl_check"; payload: Record<string, unknown> } {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") {
    const form = new URLSearchParams(raw);
    const payload = form.get("payload");
    if (payload !== null) return { kind: "interactive", payload: asObject(JSON.parse(payload)) };
    if (form.get("ssl_check") === "1") return { kind: "ssl_check", payload: {} };
    return { kind: "command", payload: Object.fromEntries(form.entries()) };
  }
  if (type === "application/json") return { kind: "events", payload: asObject(JSON.parse(raw)) };
  throw new Error(`unsupported content type ${type || "(none)"}`);
}

function asObject(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("body is not a JSON object");
  return v as Record<string, unknown>;
}

/**
 * The Slack Request URL as a Hono sub-app (mount it with `app.route("/slack", …)`):
 * `POST /events` takes Events API deliveries, slash commands and interactivity. It refuses
 * oversized bodies (413), bad signatures (401), wrong content types and malformed payloads (400),
 * answers `url_verification` and `ssl_check`, and hands everything else to `intake`, whose answer
 * is the HTTP response — the ack is sent only after the delivery is recorded.
 */
export function slackEventRoutes(deps: {
  signingSecret: string;
  logger: Logger;
  intake: (payload: Record<string, unknown>, kind: DeliveryKind) => Promise<IntakeResult>;
  /** For tests: the clock used for the timestamp window, seconds. */
  nowSeconds?: () => number;
}): Hono {
  const routes = new Hono();
  const log = deps.logger;

  routes.post("/events", async (c: Context) => {
    const started = performance.now();
    const done = (res: Response) => {
      observeWebhook("slack", res.status, started);
      return res;
    };
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > MAX_BODY_BYTES) return done(c.json({ error: "request body too large" }, 413));
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (raw.length > MAX_BODY_BYTES) return done(c.json({ error: "request body too large" }, 413));

    const problem = verifySlackSignature(
      deps.signingSecret,
      raw,
      { signature: c.req.header("x-slack-signature"), timestamp: c.req.header("x-slack-request-timestamp") },
      deps.nowSeconds?.() ?? Math.floor(Date.now() / 1000),
    );
    if (problem) {
      log.warn({ problem }, "slack request refused: signature verification failed");
      return done(c.json({ error: "invalid request signature" }, 401));
    }

    let parsed: ReturnType<typeof parseSlackBody>;
    try {
      parsed = parseSlackBody(raw.toString("utf8"), c.req.header("content-type"));
    } catch (err) {
      log.warn({ reason: (err as Error).message }, "slack request refused: malformed body");
      return done(c.json({ error: "malformed body" }, 400));
    }
    if (parsed.kind === "ssl_check") return done(c.body(null, 200));

    const result = await deps.intake(parsed.payload, parsed.kind);
    if (result.status === 400) log.warn({ reason: result.note }, "slack request refused: malformed payload");
    else if (result.note) log.debug({ note: result.note }, "slack delivery acknowledged");
    return done(result.body ? c.json(result.body, result.status) : c.body(null, result.status));
  });

  return routes;
}
