import { parseArgs } from "node:util";
import { DEFAULT_TENANT } from "../config.ts";
import { recordAudit } from "../db/audit.ts";
import { getTenantRetention, setTenantRetention, type TenantRetention } from "../db/retention.ts";
import type { Atom } from "../main.ts";
import { type CliIo, UsageError } from "./runtime.ts";

const FIELDS: Record<string, keyof TenantRetention> = {
  threads: "threadDays",
  events: "eventDays",
  runs: "runLogDays",
  audit: "auditDays",
};

/**
 * `atom retention [--tenant <id>] [--threads N] [--events N] [--runs N] [--audit N]` (days; `default`
 * returns a setting to the global policy): shows or sets a workspace's own retention policy. A
 * change is audit-logged as `settings.changed` (actor `cli`).
 */
export async function runRetention(args: string[], io: CliIo, open: () => Promise<Atom>): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      tenant: { type: "string", default: DEFAULT_TENANT },
      threads: { type: "string" },
      events: { type: "string" },
      runs: { type: "string" },
      audit: { type: "string" },
    },
  });
  const change: Record<string, number | null> = {};
  for (const [flag, field] of Object.entries(FIELDS)) {
    const v = values[flag as keyof typeof values];
    if (v === undefined) continue;
    if (v === "default") change[field] = null;
    else if (/^\d+$/.test(v)) change[field] = Number(v);
    else throw new UsageError(`--${flag} takes a number of days or "default"`);
  }
  const atom = await open();
  try {
    const tenantId = values.tenant;
    let policy: TenantRetention;
    if (Object.keys(change).length > 0) {
      const before = await getTenantRetention(atom.db, tenantId);
      try {
        policy = await setTenantRetention(atom.db, tenantId, change);
      } catch (err) {
        // Name the flag the person typed ("--audit"), not the stored field ("auditDays").
        if (err instanceof RangeError) {
          let message = err.message;
          for (const [flag, field] of Object.entries(FIELDS)) message = message.replace(field, `--${flag}`);
          throw new UsageError(message);
        }
        throw err;
      }
      await recordAudit(atom.db, atom.logger, {
        tenantId,
        actor: "cli",
        action: "settings.changed",
        platform: "cli",
        detail: { setting: "retention", before, after: policy },
      });
    } else policy = await getTenantRetention(atom.db, tenantId);
    const env = atom.config.env;
    const show = (field: keyof TenantRetention, global: number) =>
      policy[field] !== undefined ? `${policy[field]} days (this workspace)` : `${global} days (global)`;
    io.stdout.write(
      `Retention for ${tenantId}:\n  threads: ${show("threadDays", env.ATOM_RETENTION_THREAD_DAYS)}\n  events: ${show("eventDays", env.ATOM_RETENTION_EVENT_DAYS)}\n  runs: ${show("runLogDays", env.ATOM_RETENTION_RUN_LOG_DAYS)}\n  audit: ${show("auditDays", env.ATOM_RETENTION_AUDIT_DAYS)}\n`,
    );
    return 0;
  } finally {
    await atom.close();
  }
}
