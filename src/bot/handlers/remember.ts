import { userPrincipal } from "../../security/permissions.ts";
import { ANYONE } from "../../memory/types.ts";
import { makeReply, type Reply } from "../reply.ts";
import type { HandlerContext } from "./context.ts";

/** Longest note accepted, in characters. */
const MAX_NOTE = 4000;

/**
 * Stores "remember that …" as a note. Notes made in a channel are visible to the whole tenant;
 * notes made in a direct message only to their author.
 */
export async function rememberReply(ctx: HandlerContext): Promise<Reply> {
  const text = ctx.intent.query.trim();
  if (text.length > MAX_NOTE) {
    return makeReply({
      intent: "remember",
      // No count: the core has already cut a very long message, so text.length may not be what was sent.
      text: `That note is too long: the limit is ${MAX_NOTE} characters. Shorten it and try again.`,
    });
  }
  const { msg } = ctx;
  const acl = msg.isDirect
    ? [
        userPrincipal(msg.platform, msg.userId),
        ...(msg.userEmail ? [`user:${msg.userEmail.toLowerCase()}`] : []),
      ]
    : [ANYONE];
  const meta = await ctx.memory.remember({
    tenantId: msg.tenantId,
    text,
    author: msg.userEmail ?? msg.userId,
    authorKey: `${msg.platform}:${msg.userId}`,
    acl,
  });
  const who = msg.isDirect ? "only you can see it" : "everyone in this workspace can find it";
  return makeReply({
    intent: "remember",
    text: `Got it — I'll remember that (${who}). Saved as “${meta.title}”.`,
  });
}
