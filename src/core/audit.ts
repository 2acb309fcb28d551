import { type AuditEntry, type AuditInput, recordAudit } from "../db/audit.ts";

export { recordAudit };
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";

/** Columns of the CSV export, in order. */
const CSV_COLUMNS = ["id", "created_at", "tenant_id", "platform", "actor", "action", "detail"] as const;

/** Quotes one CSV field (RFC 4180); fields starting with = + - @ are prefixed with ' (spreadsheet formulas). */
function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Audit entries as CSV (RFC 4180, header row, CRLF line ends, detail as JSON). */
export function auditToCsv(entries: AuditEntry[]): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const e of entries) {
    lines.push(
      [
        e.id,
        e.createdAt.toISOString(),
        e.tenantId,
        e.platform ?? "",
        e.actor ?? "",
        e.action,
        JSON.stringify(e.detail),
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** Audit entries as JSON lines (one object per line: id, at, tenant, platform, actor, action, detail). */
export function auditToJsonLines(entries: AuditEntry[]): string {
  return entries
    .map((e) =>
      JSON.stringify({
        id: e.id,
        at: e.createdAt.toISOString(),
        tenant: e.tenantId,
        platform: e.platform,
        actor: e.actor,
        action: e.action,
        detail: e.detail,
      }),
    )
    .map((l) => `${l}\n`)
    .join("");
}

/**
 * Parses a `--since` value: `7d`, `12h`, `30m`, `2w`, or an ISO date.
 * @throws Error naming the accepted forms.
 */
export function parseSince(value: string, now = Date.now()): Date {
  const m = /^(\d+)\s*([mhdw])$/i.exec(value.trim());
  if (m) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2]!.toLowerCase() as "m"];
    return new Date(now - Number(m[1]) * unit);
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`--since takes 7d, 12h, 30m, 2w or a date (got “${value}”)`);
  return d;
}

/** Records an audited action; never throws (see {@link recordAudit}). */
export type Auditor = (entry: AuditInput) => Promise<void>;

/** An {@link Auditor} writing to `db`, logging failures to `logger`. */
export function createAuditor(db: Db, logger: Logger): Auditor {
  return (entry) => recordAudit(db, logger, entry);
}
