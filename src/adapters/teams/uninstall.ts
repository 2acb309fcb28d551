/**
 * When removing Atom from Teams purges an organisation's data — the rule, and the job that does it.
 *
 * Teams tells a bot about removals per conversation, not per organisation
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events):
 * `installationUpdate` with `action: "remove"` when the app is uninstalled from a personal scope,
 * a team or a group chat, and `conversationUpdate` with the bot in `membersRemoved` when the bot
 * leaves a team or group chat. `remove-upgrade` is the removal half of an app upgrade (an
 * `add-upgrade` follows): it is not an uninstall and changes nothing.
 *
 * The rule: a removal marks that conversation inactive. An organisation's data (memory,
 * conversation references, connections, threads, workflows, keys — every table but the audit log)
 * is purged only when the removal leaves it with no active conversation at all — i.e. Atom was
 * removed from the last team, group chat and personal chat it knew there. A bot removed from one
 * team while other conversations still have it purges nothing. The purge is a durable job that
 * checks again before it deletes, so a re-install in between keeps the data. The default tenant
 * (the organisations the environment maps to it, whose documents come from `ATOM_DOCS_DIR` and
 * which Slack or the terminal may share) is never purged by a Teams removal; only
 * `teams:<tenant id>` tenants (`ATOM_TEAMS_OTHER_TENANTS=separate`) are.
 */
import { DEFAULT_TENANT } from "../../config.ts";
import { purgeTenantData, type TenantPurger } from "../../core/tenant-purge.ts";
import type { JobWorker } from "../../core/worker.ts";
import type { Job } from "../../db/jobs.ts";
import type { TeamsConversations } from "../../db/teams.ts";
import type { Db } from "../../db/types.ts";
import type { Logger } from "../../observability/logger.ts";

/** Queue of the Teams tenant purge jobs. */
export const TEAMS_PURGE_QUEUE = "teams.purge";

/** Payload of a purge job: the removal that left the tenant without conversations. */
export interface TeamsPurgePayload {
  /** The activity id of that removal (the job key). */
  activityId: string;
  /** `installationUpdate` or `conversationUpdate`. */
  via: string;
}

/** What a Teams removal needs to schedule and run purges. */
export interface TeamsPurgeDeps {
  db: Db;
  jobs: JobWorker;
  memory: TenantPurger;
  references: TeamsConversations;
  logger: Logger;
}

/** Whether an `installationUpdate` action is an upgrade's removal half (not an uninstall). */
export function isUpgradeRemoval(action: unknown): boolean {
  return action === "remove-upgrade";
}

/**
 * Registers the purge queue and returns what the worker calls after a removal: it enqueues a purge
 * of `tenantId` when the tenant is a separate Teams tenant whose conversations are all inactive now
 * (and it still has references, i.e. was not purged already).
 * @returns whether a purge was scheduled.
 */
export function createTeamsPurge(
  deps: TeamsPurgeDeps,
): (tenantId: string, removal: TeamsPurgePayload) => Promise<boolean> {
  const log = deps.logger.child({ adapter: "teams" });
  deps.jobs.register<TeamsPurgePayload>(
    TEAMS_PURGE_QUEUE,
    async (job: Job<TeamsPurgePayload>) => {
      const n = await deps.references.counts(job.tenantId);
      if (n.active > 0) return { purged: false, reason: "Atom was added again before the purge" };
      if (n.inactive === 0) return { purged: false, reason: "already purged" };
      const { deleted } = await purgeTenantData(
        { db: deps.db, memory: deps.memory, logger: log },
        job.tenantId,
        {
          platform: "teams",
          reason: "Atom removed from the organisation's last Teams conversation",
          keepJobId: job.id,
        },
      );
      log.info(
        { tenantId: job.tenantId, via: job.payload.via },
        "teams: removed from the organisation's last conversation; its data was purged",
      );
      return { purged: true, deleted };
    },
    { concurrency: 1 },
  );
  return async (tenantId, removal) => {
    if (tenantId === DEFAULT_TENANT) return false;
    const n = await deps.references.counts(tenantId);
    if (n.active > 0 || n.inactive === 0) return false;
    await deps.jobs.enqueue<TeamsPurgePayload>({
      queue: TEAMS_PURGE_QUEUE,
      tenantId,
      key: `removed:${removal.activityId}`,
      singletonKey: `${TEAMS_PURGE_QUEUE}:${tenantId}`,
      payload: removal,
    });
    return true;
  };
}
