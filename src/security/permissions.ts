import type { ChatMessage } from "../core/ports.ts";
import { ANYONE, type Principal } from "../memory/types.ts";

/**
 * The principals whose documents may be used to answer a message (DESIGN.md, Permissions):
 * - a reply everyone in a channel will see uses documents everyone may see (`anyone`) and
 *   documents shared with the workspace's own organisation (`domain:<d>` for each of
 *   `orgDomains`) — but not the latter when the channel is shared with other organisations
 *   (`isExternallyShared`, e.g. Slack Connect `is_ext_shared`);
 * - a direct message or an ephemeral reply uses the asker's own access too: their e-mail
 *   (`user:<email>`), their platform identity (`user:<platform>:<id>`), their e-mail domain
 *   (`domain:<domain>`) and any groups the adapter resolved.
 * A document shared "with anyone who has the link" carries neither `anyone` nor a domain (see the
 * Drive ACL mapping), so it never reaches a channel through this rule.
 */
export function principalsFor(
  msg: Pick<
    ChatMessage,
    "platform" | "userId" | "userEmail" | "userGroups" | "isDirect" | "visibility" | "isExternallyShared"
  >,
  orgDomains: readonly string[] = [],
): Principal[] {
  const out: Principal[] = [ANYONE];
  if (!(msg.isDirect || msg.visibility === "ephemeral")) {
    if (msg.isExternallyShared !== true) for (const d of orgDomains) out.push(`domain:${d.toLowerCase()}`);
    return [...new Set(out)];
  }
  out.push(userPrincipal(msg.platform, msg.userId));
  if (msg.userEmail) {
    const email = msg.userEmail.trim().toLowerCase();
    out.push(`user:${email}`);
    const domain = email.split("@")[1];
    if (domain) out.push(`domain:${domain}`);
  }
  for (const g of msg.userGroups ?? []) out.push(g.toLowerCase());
  return [...new Set(out)];
}

/** Principal of a chat user without a known e-mail. */
export function userPrincipal(platform: string, userId: string): Principal {
  return `user:${platform}:${userId}`.toLowerCase();
}
