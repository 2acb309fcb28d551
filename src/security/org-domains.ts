import type { Db } from "../db/types.ts";

/** Settings key under which a tenant's learned organisation domains are stored. */
const SETTING = "org_domains";

/** Parses `ATOM_ORG_DOMAINS` ("example.com, example.org") into lower-case domains. */
export function parseOrgDomains(text: string | undefined): string[] {
  return [
    ...new Set(
      (text ?? "")
        .split(",")
        .map((d) => d.trim().toLowerCase().replace(/^@/, ""))
        .filter((d) => /^[a-z0-9.-]+\.[a-z]{2,}$/.test(d)),
    ),
  ];
}

/**
 * The e-mail domains of a tenant's own organisation (DESIGN.md, Permissions): documents shared
 * with these domains may be used in replies a whole channel sees, unless the channel is shared
 * with other organisations. `ATOM_ORG_DOMAINS` wins; otherwise the domain is learned once from
 * the installer's e-mail (or the first workspace admin who connects a drive) and kept in the
 * tenant's settings.
 */
export class OrgDomains {
  private readonly cache = new Map<string, { domains: string[]; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly configured: string[] = [],
  ) {}

  /** The tenant's organisation domains (possibly none). */
  async forTenant(tenantId: string): Promise<string[]> {
    if (this.configured.length > 0) return this.configured;
    const hit = this.cache.get(tenantId);
    if (hit && hit.until > Date.now()) return hit.domains;
    const r = await this.db.query<{ value: unknown }>(
      "SELECT value FROM settings WHERE tenant_id = $1 AND key = $2",
      [tenantId, SETTING],
    );
    const value = r.rows[0]?.value;
    const domains = Array.isArray(value) ? value.filter((d): d is string => typeof d === "string") : [];
    this.cache.set(tenantId, { domains, until: Date.now() + 60_000 });
    return domains;
  }

  /**
   * Learns the tenant's domain from the e-mail of its installer (or an admin) when none is known
   * yet. Public mail providers are not an organisation and are ignored.
   * @returns the domain learned, or undefined when one was already known or the e-mail has none.
   */
  async learnFrom(tenantId: string, email: string | undefined): Promise<string | undefined> {
    if (this.configured.length > 0 || !email) return undefined;
    const domain = email.trim().toLowerCase().split("@")[1];
    if (!domain || PUBLIC_MAIL.has(domain)) return undefined;
    const r = await this.db.query(
      `INSERT INTO settings (tenant_id, key, value) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (tenant_id, key) DO NOTHING RETURNING key`,
      [tenantId, SETTING, JSON.stringify([domain])],
    );
    this.cache.delete(tenantId);
    return r.rowCount > 0 ? domain : undefined;
  }
}

/** Mail providers whose domain says nothing about an organisation. */
const PUBLIC_MAIL = new Set([
  "gmail.com",
  "googlemail.com",
  "outlook.com",
  "hotmail.com",
  "live.com",
  "yahoo.com",
  "icloud.com",
  "me.com",
  "proton.me",
  "protonmail.com",
  "gmx.de",
  "gmx.net",
  "aol.com",
]);
