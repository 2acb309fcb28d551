/**
 * Atom in Microsoft Teams (DESIGN.md, Core flows): the door (`routes.ts`: JWT, shape, tenant,
 * one INSERT into the core's inbox, 200), the worker side (`turns.ts`: reference, normalise, answer
 * in the right conversation), in-request invokes (`invoke.ts`), proactive sends (`messenger.ts`),
 * Adaptive Cards (`cards.ts`), tenancy (`tenants.ts`), honest health (`health.ts`) and the
 * uninstall purge (`uninstall.ts`).
 * Without `MICROSOFT_APP_ID` the bot runs in local mode: activities are accepted without
 * authentication, only from loopback, and answered only at a loopback serviceUrl (a warning says so).
 */
import { CloudAdapter } from "botbuilder";
import type { Bot } from "../../bot/types.ts";
import type { Config } from "../../config.ts";
import { DEFAULT_TENANT } from "../../config.ts";
import { createAuditor } from "../../core/audit.ts";
import type { Conversations } from "../../core/conversation.ts";
import type { TenantPurger } from "../../core/tenant-purge.ts";
import type { JobWorker } from "../../core/worker.ts";
import type { Messenger, TenantResolver } from "../../core/ports.ts";
import { TeamsConversations } from "../../db/teams.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";
import type { ReadinessCheck, RouteMounter } from "../../server/app.ts";
import { type BotFrameworkEndpoints, createBotAuth } from "./auth.ts";
import { describeError } from "./errors.ts";
import { TeamsHealth, type TeamsHealthOptions } from "./health.ts";
import { LOCAL_MODE_WARNING } from "./lazy.ts";
import { createTeamsMessenger } from "./messenger.ts";
import { createTeamsRoutes } from "./routes.ts";
import { TeamsConnector } from "./send.ts";
import { checkTenancy, createTeamsTenantResolver, teamsTenancy } from "./tenants.ts";
import { createTeamsTurns } from "./turns.ts";
import { createTeamsPurge } from "./uninstall.ts";

export type { BotFrameworkEndpoints } from "./auth.ts";
export { replyActivity, replyCard } from "./cards.ts";
export { cleanText, threadConversationId } from "./normalize.ts";
export { ConversationUnreachableError } from "./send.ts";
export { createTeamsTenantResolver, REFUSAL_TEXT, teamsTenancy } from "./tenants.ts";

/** Dependencies of the Teams adapter. */
export interface TeamsAdapterDeps {
  config: Config;
  db: Db;
  bot: Bot;
  logger: Logger;
  /** The core pipeline the door hands activities to (the adapter registers its worker side). */
  conversations: Conversations;
  /** Fetch used for attachment downloads (default: global fetch). */
  fetch?: typeof fetch;
  /** How often the typing indicator repeats while an answer is produced (ms, default 3000). */
  typingIntervalMs?: number;
  /** Bot Framework and login endpoints for other clouds and loopback tests (default: public cloud). */
  endpoints?: BotFrameworkEndpoints;
  /** How long token checks are reused (status, /readyz). */
  health?: TeamsHealthOptions;
  /** Do not log the local-mode warning (it was logged at start, see lazy.ts). */
  quiet?: boolean;
  /**
   * The job worker and memory the uninstall purge needs (uninstall.ts). Without them a removal
   * only marks its conversation inactive.
   */
  purge?: { jobs: JobWorker; memory: TenantPurger };
}

/** The Teams surface of Atom. */
export interface TeamsAdapter {
  /** Mounts `POST /api/messages`. */
  routes: RouteMounter;
  /** Proactive sends from stored conversation references. */
  messenger: Messenger;
  /**
   * The `/readyz` part `teams` (non-critical): a real Bot Framework token request. Undefined in
   * local mode, where there is no token to get.
   */
  readiness?: ReadinessCheck;
  /** Which Atom tenant an Entra tenant belongs to (undefined: refused). */
  tenants: TenantResolver;
  /** Conversation reference storage. */
  references: TeamsConversations;
  /** Token and reply health. */
  health: TeamsHealth;
  /** Whether inbound activities must carry a valid Bot Framework JWT (an app id is configured). */
  authenticated: boolean;
  /** Releases resources (nothing runs outside the job worker; kept for symmetry). */
  close(): Promise<void>;
}

/**
 * Creates the Teams adapter, registers its worker side with the conversation pipeline and its
 * status line with the bot.
 * @throws Error when the settings cannot work (SingleTenant without MICROSOFT_APP_TENANT_ID, no
 *   password, an app that would refuse every organisation).
 */
export function createTeamsAdapter(deps: TeamsAdapterDeps): TeamsAdapter {
  const { config, db, bot, conversations } = deps;
  const log = deps.logger.child({ adapter: "teams" });
  const tenancy = teamsTenancy(config);
  checkTenancy(config, tenancy);
  const auth = createBotAuth(config, deps.endpoints);
  if (!auth.authenticated && !deps.quiet) log.warn(LOCAL_MODE_WARNING);
  const resolver = createTeamsTenantResolver(tenancy);
  const references = new TeamsConversations(db);
  const health = new TeamsHealth(auth, deps.health);
  const cloud = new CloudAdapter(auth.framework);
  cloud.onTurnError = async (_context, err) => {
    log.error({ error: describeError(err) }, "teams: proactive turn failed");
  };
  const connector = new TeamsConnector(cloud, auth.appId, health, log);
  const onRemoved = deps.purge
    ? createTeamsPurge({ db, ...deps.purge, references, logger: deps.logger })
    : undefined;
  conversations.register(
    createTeamsTurns({
      resolver,
      references,
      connector,
      logger: deps.logger,
      audit: createAuditor(db, deps.logger),
      onRemoved,
      maxFileBytes: config.env.VOICE_MAX_BYTES,
      fetch: deps.fetch,
      typingIntervalMs: deps.typingIntervalMs ?? 3000,
    }),
  );
  bot.addStatusContributor(async (tenantId) => {
    const n = await references.counts(tenantId);
    // The env-configured bot serves the default tenant; other tenants only hear about Teams if they use it.
    if (tenantId !== DEFAULT_TENANT && n.active + n.inactive === 0) return [];
    return [`${await health.statusLine()}; ${n.active} conversation(s) reachable, ${n.inactive} inactive`];
  });
  return {
    routes: createTeamsRoutes({ auth, bot, conversations, resolver, references, logger: deps.logger }),
    messenger: createTeamsMessenger({ references, connector, resolver, logger: deps.logger }),
    readiness: auth.authenticated ? health.readiness() : undefined,
    tenants: resolver,
    references,
    health,
    authenticated: auth.authenticated,
    async close() {},
  };
}
