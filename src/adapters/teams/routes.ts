/**
 * The Teams door: `POST /api/messages` as a Hono sub-app. For each request, in order:
 * 1. local mode (no app id): only from loopback (else 401);
 * 2. body at most 1 MB (413), JSON (400), an object nested at most {@link MAX_ACTIVITY_DEPTH}
 *    levels (400), the activity shape (400), a serviceUrl replies can really go to (400);
 * 3. the Bot Framework JWT (401; 500 when validation could not run);
 * 4. invokes are answered in the request (see invoke.ts); messages and installation updates are
 *    accepted into the core's durable inbox — one INSERT keyed by `(Entra tenant, conversation id,
 *    activity id)`, a redelivery stops there — and acked with 200. An activity of a refused Entra
 *    tenant is accepted cut down to what its refusal needs, and only when it is addressed to the
 *    bot; everything else of such a tenant is acked and dropped untouched.
 * Anything accepted is answered by the worker or fails there with its reason logged.
 */
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Activity } from "botbuilder";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Conversations } from "../../core/conversation.ts";
import type { TenantResolver } from "../../core/ports.ts";
import type { Logger } from "../../observability/logger.ts";
import { observeWebhook } from "../../observability/metrics.ts";
import type { RouteMounter } from "../../server/app.ts";
import {
  checkActivityShape,
  checkServiceUrl,
  isLoopbackAddress,
  MAX_ACTIVITY_DEPTH,
  nestedDeeperThan,
} from "./activity.ts";
import type { BotAuth } from "./auth.ts";
import { parseCardAction } from "./cards.ts";
import { describeError, isAuthRejection } from "./errors.ts";
import { answerInvoke, type InvokeDeps } from "./invoke.ts";
import { addressesBot, teamsTenantId } from "./normalize.ts";
import { refusalOnly, type TeamsInbound } from "./turns.ts";

/** Largest accepted activity body (Teams messages are at most ~100 KB including cards). */
export const MAX_ACTIVITY_BYTES = 1024 * 1024;

/** Activity types that go to the worker (everything else is acked and dropped). */
const INBOX_TYPES = new Set(["message", "conversationUpdate", "installationUpdate"]);

/** Dependencies of the Teams routes. */
export interface TeamsRoutesDeps extends InvokeDeps {
  auth: BotAuth;
  conversations: Conversations;
  resolver: TenantResolver;
  logger: Logger;
}

/** The remote address of a request, when the server knows it. */
function remoteAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** Whether an installation/conversation update is one the worker acts on (bot added or removed). */
function isInstallChange(a: Activity): boolean {
  if (a.type === "installationUpdate") return true;
  const bot = a.recipient.id;
  return (
    (a.membersAdded ?? []).some((m) => m?.id === bot) || (a.membersRemoved ?? []).some((m) => m?.id === bot)
  );
}

/** Builds the sub-app and the mounter that adds it under `/api`. */
export function createTeamsRoutes(deps: TeamsRoutesDeps): RouteMounter {
  const { auth } = deps;
  const log = deps.logger.child({ adapter: "teams" });
  const api = new Hono();
  const limit = bodyLimit({
    maxSize: MAX_ACTIVITY_BYTES,
    onError: (c) => c.json({ error: "the activity is too large" }, 413),
  });

  api.post("/messages", limit, async (c) => {
    const started = performance.now();
    const finish = (res: Response) => {
      observeWebhook("teams", res.status, started);
      return res;
    };
    const refuse = (status: 400 | 401, error: string) => finish(c.json({ error }, status));

    if (!auth.authenticated) {
      const remote = remoteAddress(c);
      if (!remote || !isLoopbackAddress(remote))
        return refuse(401, "unauthenticated Teams activities are accepted only from loopback");
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return refuse(400, "the body must be a JSON Bot Framework activity");
    }
    if (!body || typeof body !== "object" || Array.isArray(body))
      return refuse(400, "the body must be a JSON Bot Framework activity");
    if (nestedDeeperThan(body, MAX_ACTIVITY_DEPTH)) {
      log.warn("teams: rejected an activity nested too deeply");
      return refuse(400, `invalid activity: nested deeper than ${MAX_ACTIVITY_DEPTH} levels`);
    }
    const shape = checkActivityShape(body);
    if (!shape.ok) {
      log.warn({ error: shape.error }, "teams: rejected a malformed activity");
      return refuse(400, shape.error);
    }
    const activity = body as Activity;
    const where = checkServiceUrl(activity.serviceUrl, auth.authenticated ? "authenticated" : "local");
    if (!where.ok) {
      log.warn({ error: where.error }, "teams: refused an activity whose serviceUrl Atom cannot answer");
      return refuse(400, where.error);
    }
    // Local mode: no JWT binds the serviceUrl, so replies go to the loopback URL that was checked.
    if (!auth.authenticated) activity.serviceUrl = where.url;

    try {
      await auth.framework.authenticateRequest(activity, c.req.header("authorization") ?? "");
    } catch (err) {
      if (isAuthRejection(err)) {
        log.warn({ reason: describeError(err) }, "teams: rejected an activity without a valid token");
        return refuse(401, "unauthorized");
      }
      log.error({ error: describeError(err) }, "teams: authenticating the activity failed");
      return finish(c.json({ error: "internal error" }, 500));
    }

    try {
      if (activity.type === "invoke") {
        const answer = await answerInvoke(activity, deps);
        if (answer.body === undefined) return finish(c.body(null, answer.status as 200));
        return finish(c.json(answer.body as object, answer.status as 200));
      }
      if (!INBOX_TYPES.has(activity.type) || (activity.type !== "message" && !isInstallChange(activity)))
        return finish(c.body(null, 200));
      const tid = teamsTenantId(activity);
      const allowed = deps.resolver.resolve(tid) !== undefined;
      const carded = activity.type === "message" && parseCardAction(activity.value) !== null;
      let inbound: TeamsInbound;
      if (allowed) inbound = { activity };
      else if (activity.type === "message" && addressesBot(activity))
        inbound = { activity: refusalOnly(activity), refused: true };
      else {
        log.info(
          { entraTenant: tid ?? null, type: activity.type },
          "teams: ignored an activity of a tenant that is not allowed",
        );
        return finish(c.body(null, 200));
      }
      const outcome = await deps.conversations.accept(
        { platform: "teams", kind: allowed && carded ? "action" : "message", body: inbound },
        { workspace: tid ?? "none", key: `${activity.type}:${activity.conversation.id}:${activity.id}` },
      );
      if (outcome === "duplicate") log.debug({ id: activity.id }, "teams: duplicate activity ignored");
      return finish(c.body(null, 200));
    } catch (err) {
      log.error({ error: describeError(err) }, "teams: accepting the activity failed");
      return finish(c.json({ error: "internal error" }, 500));
    }
  });

  return (app: Hono) => {
    app.route("/api", api);
  };
}
