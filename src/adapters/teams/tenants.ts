/**
 * Which Atom tenant a Teams (Entra) tenant belongs to — the one place this rule lives
 * (DESIGN.md, Tenants). The Teams bot configured by environment joins the default tenant only for
 * the Entra tenants it is told to: `MICROSOFT_APP_TENANT_ID` (the bot's own directory) and the
 * `ATOM_TEAMS_TENANTS` allow-list. Any other Entra tenant is refused (`ATOM_TEAMS_OTHER_TENANTS=refuse`,
 * the default) or is its own Atom tenant `teams:<tenant id>` (`separate`) — never the default one.
 */
import { DEFAULT_TENANT } from "../../config.ts";
import type { Config } from "../../config.ts";
import type { TenantResolver } from "../../core/ports.ts";

/** Prefix of the Atom tenant of an Entra tenant that is not mapped to the default tenant. */
export const TEAMS_TENANT_PREFIX = "teams:";

/** The tenancy rules of the Teams bot, from configuration. */
export interface TeamsTenancy {
  /** Entra tenant ids (lower-case) answered as the default tenant. */
  defaultTenants: string[];
  /** What happens to every other Entra tenant. */
  otherTenants: "refuse" | "separate";
  /**
   * Local development without an app id and without any tenant setting: every activity (the
   * Bot Framework Emulator sends no tenant id) belongs to the default tenant. Such an instance only
   * accepts activities from loopback.
   */
  anyAsDefault: boolean;
}

/** Entra tenant ids are GUIDs; anything else never names an Atom tenant. */
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Reads the tenancy rules from config (see the module comment for the settings). */
export function teamsTenancy(config: Config): TeamsTenancy {
  const env = config.env;
  const defaultTenants = [
    ...new Set([
      ...(env.MICROSOFT_APP_TENANT_ID ? [env.MICROSOFT_APP_TENANT_ID.toLowerCase()] : []),
      ...(env.ATOM_TEAMS_TENANTS ?? []),
    ]),
  ];
  const otherTenants = env.ATOM_TEAMS_OTHER_TENANTS;
  const local = !env.MICROSOFT_APP_ID;
  return {
    defaultTenants,
    otherTenants,
    anyAsDefault: local && defaultTenants.length === 0 && otherTenants === "refuse",
  };
}

/**
 * Creates the Teams {@link TenantResolver}. `resolve(entraTenantId)` returns:
 * - `"default"` for an Entra tenant in `defaultTenants` (case-insensitive), or for anything when
 *   `anyAsDefault` is set;
 * - `teams:<tenant id>` for another well-formed tenant id when `otherTenants` is `separate`;
 * - undefined (refused) otherwise — including a missing or malformed tenant id.
 */
export function createTeamsTenantResolver(tenancy: TeamsTenancy): TenantResolver {
  const allowed = new Set(tenancy.defaultTenants.map((t) => t.toLowerCase()));
  return {
    resolve(platformTenant) {
      if (tenancy.anyAsDefault) return DEFAULT_TENANT;
      const tid = platformTenant?.trim().toLowerCase();
      if (!tid || !TENANT_ID.test(tid)) return undefined;
      if (allowed.has(tid)) return DEFAULT_TENANT;
      if (tenancy.otherTenants === "separate") return `${TEAMS_TENANT_PREFIX}${tid}`;
      return undefined;
    },
  };
}

/**
 * Checks that the Teams settings can admit anyone at all.
 * @throws Error naming the missing setting, e.g. a MultiTenant bot with no tenant allowed.
 */
export function checkTenancy(config: Config, tenancy: TeamsTenancy): void {
  const env = config.env;
  if (!env.MICROSOFT_APP_ID) return;
  if (env.MICROSOFT_APP_TYPE === "SingleTenant" && !env.MICROSOFT_APP_TENANT_ID) {
    throw new Error(
      "MICROSOFT_APP_TENANT_ID is required when MICROSOFT_APP_TYPE is SingleTenant (the default): set it to the Directory (tenant) id of the bot's app registration, or set MICROSOFT_APP_TYPE=MultiTenant for a multi-tenant registration",
    );
  }
  if (tenancy.defaultTenants.length === 0 && tenancy.otherTenants === "refuse") {
    throw new Error(
      "the Teams bot would refuse every organisation: set MICROSOFT_APP_TENANT_ID or ATOM_TEAMS_TENANTS (Entra tenants answered from the default tenant), or ATOM_TEAMS_OTHER_TENANTS=separate",
    );
  }
}

/** The message an activity from a refused Entra tenant gets (it carries no data of any tenant). */
export const REFUSAL_TEXT =
  "Sorry — this Atom isn't available to your organisation. It only answers the Microsoft Teams organisations its administrator has allowed. If you think this is a mistake, ask your Teams admin to contact the people who run Atom.";
