import { ANYONE, type Principal } from "../../types.ts";

/** The fields of a Drive permission the ACL is built from. */
export interface DrivePermission {
  id?: string | null;
  type?: string | null;
  emailAddress?: string | null;
  domain?: string | null;
  role?: string | null;
  allowFileDiscovery?: boolean | null;
  deleted?: boolean | null;
}

/**
 * Maps Drive permissions (https://developers.google.com/workspace/drive/api/reference/rest/v3/permissions)
 * to Atom principals:
 * - `user` → `user:<email>`, `group` → `group:<email>`, `domain` → `domain:<domain>`, `anyone` → `anyone`;
 * - `domain` or `anyone` with `allowFileDiscovery` false (or unset) is "anyone with the link": it
 *   grants nobody in particular, so it adds nothing — the file stays readable by the people it is
 *   explicitly shared with (and the connecting user, added by the sync);
 * - a permission of a deleted account, or without the e-mail/domain it needs, is ignored and
 *   reported in `notes`.
 * Every role (reader, commenter, writer, owner…) may read.
 */
export function aclFromPermissions(perms: readonly DrivePermission[]): { acl: Principal[]; notes: string[] } {
  const acl = new Set<Principal>();
  const notes: string[] = [];
  for (const p of perms) {
    if (p.deleted) continue;
    const email = p.emailAddress?.trim().toLowerCase();
    const domain = p.domain?.trim().toLowerCase();
    switch (p.type) {
      case "user":
      case "group":
        if (email) acl.add(`${p.type}:${email}`);
        else notes.push(`a ${p.type} permission${p.id ? ` (${p.id})` : ""} has no e-mail; ignored`);
        break;
      case "domain":
        if (!domain) notes.push(`a domain permission${p.id ? ` (${p.id})` : ""} has no domain; ignored`);
        else if (p.allowFileDiscovery === true) acl.add(`domain:${domain}`);
        break;
      case "anyone":
        if (p.allowFileDiscovery === true) acl.add(ANYONE);
        break;
      default:
        notes.push(`a permission of unknown type ${String(p.type)}; ignored`);
    }
  }
  return { acl: [...acl].sort(), notes };
}
