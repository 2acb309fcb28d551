import type { Principal } from "../../types.ts";

/** An identity of a Graph permission (`user`, `group`, `siteUser`, `siteGroup`). */
export interface GraphIdentity {
  id?: string;
  displayName?: string;
  email?: string;
  loginName?: string;
}

/** The identity set of `grantedToV2` / `grantedToIdentitiesV2[]`. */
export interface GraphIdentitySet {
  user?: GraphIdentity;
  group?: GraphIdentity;
  siteUser?: GraphIdentity;
  siteGroup?: GraphIdentity;
  application?: GraphIdentity;
}

/** The fields of a Graph `permission` the ACL is built from. */
export interface GraphPermission {
  id?: string;
  roles?: string[];
  grantedToV2?: GraphIdentitySet;
  grantedToIdentitiesV2?: GraphIdentitySet[];
  /** Legacy fields, still sent by some tenants. */
  grantedTo?: GraphIdentitySet;
  grantedToIdentities?: GraphIdentitySet[];
  link?: { scope?: string; type?: string };
}

/** An e-mail out of a SharePoint login name (`i:0#.f|membership|ana@contoso.com`). */
function emailOf(i: GraphIdentity | undefined): string | undefined {
  const e = i?.email ?? (i?.loginName?.includes("|") ? i.loginName.split("|").at(-1) : undefined);
  const v = e?.trim().toLowerCase();
  return v && /^[^@\s]+@[^@\s]+$/.test(v) ? v : undefined;
}

/**
 * Maps the permissions of a drive item (https://learn.microsoft.com/graph/api/resources/permission)
 * to Atom principals:
 * - users in `grantedToV2` / `grantedToIdentitiesV2` (and their legacy names) → `user:<email>`,
 *   groups → `group:<email>`; a SharePoint site group has no e-mail and grants nobody Atom can
 *   match (noted);
 * - a sharing link with `scope: organization` → `domain:<tenant domain>` (everyone in the
 *   organisation, as Drive's domain sharing) — only when the tenant's domain is known;
 * - a link with `scope: anonymous` ("anyone with the link") is **not** everyone: it adds nothing,
 *   the file stays readable by the people it is explicitly shared with (and the connecting user);
 * - a link with `scope: users` grants the people in its `grantedToIdentitiesV2`.
 * Every role (read, write, owner) may read.
 */
export function aclFromGraphPermissions(
  perms: readonly GraphPermission[],
  tenantDomain: string | undefined,
): { acl: Principal[]; notes: string[] } {
  const acl = new Set<Principal>();
  const notes: string[] = [];
  const grant = (set: GraphIdentitySet | undefined) => {
    if (!set) return;
    const user = set.user ?? set.siteUser;
    if (user) {
      const e = emailOf(user);
      if (e) acl.add(`user:${e}`);
      else notes.push(`a permission for ${user.displayName ?? "a user"} has no e-mail; ignored`);
    }
    if (set.group) {
      const e = emailOf(set.group);
      if (e) acl.add(`group:${e}`);
      else notes.push(`a permission for the group ${set.group.displayName ?? "?"} has no e-mail; ignored`);
    }
    if (set.siteGroup && !user && !set.group) {
      notes.push(
        `a permission for the SharePoint group ${set.siteGroup.displayName ?? "?"} cannot be matched to people; ignored`,
      );
    }
  };
  for (const p of perms) {
    if (p.link) {
      const scope = p.link.scope;
      if (scope === "organization") {
        if (tenantDomain) acl.add(`domain:${tenantDomain.toLowerCase()}`);
        else notes.push("an organisation sharing link was ignored (the organisation's domain is unknown)");
      }
      // anonymous: link only — nobody in particular. users: the people listed below.
      for (const s of p.grantedToIdentitiesV2 ?? p.grantedToIdentities ?? []) grant(s);
      continue;
    }
    grant(p.grantedToV2 ?? p.grantedTo);
    for (const s of p.grantedToIdentitiesV2 ?? p.grantedToIdentities ?? []) grant(s);
  }
  return { acl: [...acl].sort(), notes };
}
