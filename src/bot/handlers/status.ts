import { makeReply, type Reply } from "../reply.ts";
import type { HandlerContext } from "./context.ts";

/** What is indexed, per source, with the last sync; plus lines from status contributors. */
export async function statusReply(ctx: HandlerContext): Promise<Reply> {
  const sources = await ctx.memory.status(ctx.msg.tenantId);
  const items = sources.map((s) => {
    const when = s.lastSyncAt ? s.lastSyncAt.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "never";
    const problem = s.lastError ? ` — ${s.lastError}` : "";
    return `${s.label} (${s.kind}): ${s.documents} documents, ${s.chunks} passages; last sync ${when}${problem}`;
  });
  const extra: string[] = [];
  for (const contribute of ctx.statusContributors) {
    try {
      extra.push(...(await contribute(ctx.msg.tenantId, ctx.msg)));
    } catch (err) {
      ctx.logger.warn({ err }, "status contributor failed");
    }
  }
  const head = items.length > 0 ? "Memory:" : "Memory is empty: no sources are connected yet.";
  const all = [...items, ...extra];
  const text = [head, ...all.map((i) => `• ${i}`)].join("\n");
  const blocks: Reply["blocks"] = [{ type: "text", text: head }];
  if (all.length > 0) blocks.push({ type: "list", items: all });
  return makeReply({ intent: "status", text, blocks });
}
