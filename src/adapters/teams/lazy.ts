/**
 * The Teams adapter without botbuilder until it is needed. botbuilder (with its connector, MSAL and
 * their dependencies) is ~55 MB of resident memory; without `MICROSOFT_APP_ID` (local mode) most
 * servers never see a Teams activity. So in local mode `atom serve` mounts `POST /api/messages`,
 * registers the worker side, the Messenger and the status line as thin stand-ins that load the
 * real adapter (`index.ts`) on first use — a Teams request, a queued Teams delivery, a proactive
 * send or a status line — and then hand over to it. The tenancy checks and the local-mode warning
 * still happen at start. With an app id the real adapter is created at start, as before.
 */
import { Hono } from "hono";
import type { StatusContributor } from "../../bot/types.ts";
import type { ConversationAdapter, Conversations } from "../../core/conversation.ts";
import type { Messenger } from "../../core/ports.ts";
import type { RouteMounter } from "../../server/app.ts";
import { checkTenancy, teamsTenancy } from "./tenants.ts";

/** Dependencies of {@link createLazyTeamsAdapter}: those of the real adapter. */
export type LazyTeamsDeps = import("./index.ts").TeamsAdapterDeps;

/** What `atom serve` uses of the Teams adapter. */
export interface TeamsSurface {
  routes: RouteMounter;
  messenger: Messenger;
  readiness?: import("../../server/app.ts").ReadinessCheck;
  /** Whether inbound activities must carry a valid Bot Framework JWT (an app id is configured). */
  authenticated: boolean;
  /** Whether the real adapter (and botbuilder) is loaded. */
  loaded(): boolean;
  close(): Promise<void>;
}

/** The warning of local mode, logged at start (the real adapter logs it only when created eagerly). */
export const LOCAL_MODE_WARNING =
  "MICROSOFT_APP_ID is not set: Teams activities at POST /api/messages are accepted WITHOUT authentication, " +
  "only from loopback (127.0.0.1 / ::1), and answered only at a loopback serviceUrl. Set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD before connecting Atom to Teams.";

/**
 * Creates the Teams surface: the real adapter now when `MICROSOFT_APP_ID` is set, else stand-ins
 * that load it on first use (see the module comment).
 * @throws Error when the tenancy settings cannot work (as the real adapter does).
 */
export async function createTeamsSurface(deps: LazyTeamsDeps): Promise<TeamsSurface> {
  if (deps.config.env.MICROSOFT_APP_ID) {
    const { createTeamsAdapter } = await import("./index.ts");
    const real = createTeamsAdapter(deps);
    return { ...real, loaded: () => true };
  }
  return createLazyTeamsAdapter(deps);
}

/** The local-mode Teams surface whose botbuilder side loads on first use. */
export function createLazyTeamsAdapter(deps: LazyTeamsDeps): TeamsSurface {
  const { config, bot, conversations } = deps;
  checkTenancy(config, teamsTenancy(config));
  deps.logger.child({ adapter: "teams" }).warn(LOCAL_MODE_WARNING);

  interface Loaded {
    api: Hono;
    turns: ConversationAdapter<unknown, unknown>;
    messenger: Messenger;
    status: StatusContributor;
    close(): Promise<void>;
  }
  let loading: Promise<Loaded> | undefined;
  let ready = false;
  const load = (): Promise<Loaded> => {
    loading ??= (async () => {
      const { createTeamsAdapter } = await import("./index.ts");
      let turns: ConversationAdapter<unknown, unknown> | undefined;
      let status: StatusContributor | undefined;
      const real = createTeamsAdapter({
        ...deps,
        quiet: true,
        // The stand-ins below are already registered in the pipeline and with the bot.
        conversations: {
          register: (a) => {
            turns = a as ConversationAdapter<unknown, unknown>;
          },
          accept: (envelope, identity) => conversations.accept(envelope, identity),
        } satisfies Conversations,
        bot: new Proxy(bot, {
          get(target, prop) {
            if (prop === "addStatusContributor")
              return (fn: StatusContributor) => {
                status = fn;
              };
            const v = Reflect.get(target, prop, target);
            return typeof v === "function" ? v.bind(target) : v;
          },
        }),
      });
      if (!turns || !status) throw new Error("the Teams adapter registered no worker side or status line");
      const api = new Hono();
      real.routes(api);
      ready = true;
      deps.logger.child({ adapter: "teams" }).info("teams: adapter loaded on first use");
      return { api, turns, messenger: real.messenger, status, close: () => real.close() };
    })();
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };

  // The worker side: same methods as the real one (createTeamsTurns), each loading it first.
  // Every turn is made by `toTurn`, which loads the adapter first, so by the time the core asks
  // whether a turn may stream the real adapter's answer is there to forward.
  let loadedTurns: ConversationAdapter<unknown, unknown> | undefined;
  const turns: ConversationAdapter<unknown, unknown> = {
    platform: "teams",
    toTurn: async (body) => {
      const t = (await load()).turns;
      loadedTurns = t;
      return t.toTurn(body);
    },
    get cumulativeStream() {
      return loadedTurns?.cumulativeStream;
    },
    openStream: (turn) => loadedTurns?.openStream?.(turn),
    send: async (turn, reply) => (await load()).turns.send(turn, reply),
    working: async (turn) => {
      const t = (await load()).turns;
      return t.working ? t.working(turn) : async () => {};
    },
    toAction: async (body) => {
      const t = (await load()).turns;
      if (!t.toAction) return { ignored: "no button handling" };
      return t.toAction(body);
    },
    answerAction: async (action, reply) => (await load()).turns.answerAction?.(action, reply),
  };
  conversations.register(turns);
  bot.addStatusContributor(async (tenantId) => (await load()).status(tenantId));

  return {
    routes: (app) => {
      app.post("/api/messages", async (c) => (await load()).api.fetch(c.req.raw, c.env));
    },
    messenger: {
      platform: "teams",
      send: async (target, reply) => (await load()).messenger.send(target, reply),
    },
    readiness: undefined,
    authenticated: false,
    loaded: () => ready,
    async close() {
      if (ready) await (await load()).close();
    },
  };
}
