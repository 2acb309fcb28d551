import type { Conversations } from "../../core/conversation.ts";
import type { JobWorker } from "../../core/worker.ts";
import type { Logger } from "../../observability/logger.ts";
import type { SlackCredentials } from "./credentials.ts";
import { cannotBeForAtom, skipReason } from "./normalise.ts";
import {
  actionWorkspace,
  blockActions,
  callbackWorkspace,
  commandWorkspace,
  identityOf,
  lifecycleCallback,
  messageCallback,
  type SlackInbound,
  slashCommand,
} from "./payloads.ts";

/** The queue of `app_uninstalled` / `tokens_revoked` deliveries. */
export const SLACK_LIFECYCLE_QUEUE = "slack.lifecycle";

/** How a delivery reached Atom: an Events API JSON body, a slash command form, an interactivity payload. */
export type DeliveryKind = "events" | "command" | "interactive";

/** What to answer Slack: the HTTP status and body (Socket Mode sends the body as the ack). */
export interface IntakeResult {
  status: 200 | 400 | 503;
  /** JSON body (or nothing for an empty 200). */
  body?: Record<string, unknown>;
  /** For the log: why it was refused or not kept. */
  note?: string;
}

/** The ephemeral acknowledgement of `/atom` (replaced by the answer). */
export const COMMAND_ACK = { response_type: "ephemeral", text: "Working on it…" } as const;

/**
 * The Slack ack path after verification: validates the payload's shape (zod), drops what cannot
 * be for Atom without any I/O (edits, joins, Atom's own messages as far as this process knows the
 * bot identity, channel chatter that mentions nobody outside a thread), computes the delivery's
 * identity and records it as one job (one INSERT: a duplicate stops there). No database read and
 * no Web API call happens here, for any workspace. Malformed payloads get 400; when the job
 * cannot be recorded Slack gets 503 and delivers again.
 */
export function createIntake(deps: {
  conversations: Conversations;
  jobs: JobWorker;
  credentials: SlackCredentials;
  allowedBots: ReadonlySet<string>;
  logger: Logger;
}): (payload: Record<string, unknown>, kind: DeliveryKind) => Promise<IntakeResult> {
  const bad = (note: string): IntakeResult => ({ status: 400, body: { error: "malformed payload" }, note });
  const ok = (body?: Record<string, unknown>, note?: string): IntakeResult => ({ status: 200, body, note });

  const accept = async (inbound: SlackInbound, workspace: string | undefined, kind: "message" | "action") => {
    if (!workspace) return bad("no team or enterprise id");
    try {
      const out = await deps.conversations.accept(
        { platform: "slack", kind, body: inbound },
        { workspace, key: identityOf(inbound) },
      );
      return out;
    } catch (err) {
      deps.logger.error({ err }, "slack delivery could not be recorded; asking Slack to retry");
      return "failed" as const;
    }
  };

  return async (payload, kind) => {
    if (kind === "command") {
      const c = slashCommand.safeParse(payload);
      if (!c.success)
        return bad(`slash command: ${c.error.issues[0]?.path.join(".")} ${c.error.issues[0]?.message}`);
      const out = await accept({ source: "command", body: c.data }, commandWorkspace(c.data), "message");
      if (out === "failed") return { status: 503, body: { error: "try again" } };
      if (typeof out === "object") return out;
      return ok({ ...COMMAND_ACK }, out);
    }
    if (kind === "interactive") {
      if (payload.type !== "block_actions")
        return ok(undefined, `interactivity ${String(payload.type)} not used`);
      const a = blockActions.safeParse(payload);
      if (!a.success)
        return bad(`block_actions: ${a.error.issues[0]?.path.join(".")} ${a.error.issues[0]?.message}`);
      const out = await accept({ source: "action", body: a.data }, actionWorkspace(a.data), "action");
      if (out === "failed") return { status: 503, body: { error: "try again" } };
      return typeof out === "object" ? out : ok(undefined, out);
    }
    if (payload.type === "url_verification") {
      return typeof payload.challenge === "string" && payload.challenge.length <= 1000
        ? ok({ challenge: payload.challenge })
        : bad("url_verification without a challenge");
    }
    if (payload.type !== "event_callback") {
      return typeof payload.type === "string" ? ok(undefined, `${payload.type} not used`) : bad("no type");
    }
    const event = payload.event as { type?: unknown } | undefined;
    if (!event || typeof event !== "object" || typeof event.type !== "string")
      return bad("event_callback without an event");
    if (event.type === "app_uninstalled" || event.type === "tokens_revoked") {
      const l = lifecycleCallback.safeParse(payload);
      if (!l.success) return bad(`${event.type}: ${l.error.issues[0]?.message}`);
      const workspace = callbackWorkspace(l.data);
      if (!workspace) return bad("no team or enterprise id");
      try {
        await deps.jobs.enqueue({
          queue: SLACK_LIFECYCLE_QUEUE,
          tenantId: `slack:${workspace}`,
          key: `${event.type}:${l.data.event_id}`,
          payload: { workspace, body: l.data },
        });
      } catch (err) {
        deps.logger.error({ err }, "slack lifecycle event could not be recorded; asking Slack to retry");
        return { status: 503, body: { error: "try again" } };
      }
      return ok();
    }
    if (event.type !== "message" && event.type !== "app_mention")
      return ok(undefined, `event ${event.type} not used`);
    const m = messageCallback.safeParse(payload);
    if (!m.success)
      return bad(`${event.type}: ${m.error.issues[0]?.path.join(".")} ${m.error.issues[0]?.message}`);
    const workspace = callbackWorkspace(m.data);
    const bot = deps.credentials.peek(workspace);
    const skip = skipReason(m.data.event, bot, deps.allowedBots);
    if (skip) return ok(undefined, skip);
    if (cannotBeForAtom(m.data.event, bot)) return ok(undefined, "not addressed to Atom");
    const out = await accept({ source: "event", body: m.data }, workspace, "message");
    if (out === "failed") return { status: 503, body: { error: "try again" } };
    return typeof out === "object" ? out : ok(undefined, out);
  };
}
