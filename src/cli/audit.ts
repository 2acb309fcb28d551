import { parseArgs } from "node:util";
import { auditToCsv, auditToJsonLines, parseSince } from "../core/audit.ts";
import { listAudit } from "../db/audit.ts";
import type { Atom } from "../main.ts";
import { type CliIo, UsageError } from "./runtime.ts";

/**
 * `atom audit [--since 7d] [--json | --csv] [--tenant <id>] [--action <name|area.>] [--limit n]`:
 * prints audit entries newest first — a table by default, JSON lines with `--json`, CSV with
 * `--csv` (both are the export formats). Default window: the last 7 days, at most 1000 entries.
 */
export async function runAudit(args: string[], io: CliIo, open: () => Promise<Atom>): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: {
      since: { type: "string", default: "7d" },
      json: { type: "boolean", default: false },
      csv: { type: "boolean", default: false },
      tenant: { type: "string" },
      action: { type: "string" },
      limit: { type: "string", default: "1000" },
    },
  });
  if (values.json && values.csv) throw new UsageError("audit takes --json or --csv, not both");
  let since: Date;
  try {
    since = parseSince(values.since);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const limit = Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError("--limit takes a positive whole number");
  const atom = await open();
  try {
    const entries = await listAudit(atom.db, {
      since,
      tenantId: values.tenant,
      action: values.action,
      limit,
    });
    if (values.json) io.stdout.write(auditToJsonLines(entries));
    else if (values.csv) io.stdout.write(auditToCsv(entries));
    else if (entries.length === 0) io.stdout.write(`No audit entries since ${since.toISOString()}.\n`);
    else {
      for (const e of entries) {
        const detail = Object.entries(e.detail)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        io.stdout.write(
          `${e.createdAt.toISOString()}  ${e.tenantId}  ${e.platform ?? "-"}  ${e.actor ?? "-"}  ${e.action}${detail ? `  ${detail}` : ""}\n`,
        );
      }
    }
    return 0;
  } finally {
    await atom.close();
  }
}
