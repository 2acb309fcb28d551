import { type Citation, citedTitle, makeReply, type Reply } from "../reply.ts";
import type { HandlerContext } from "./context.ts";

/** "find docs about X": a list of matching documents with their best passage. */
export async function searchReply(ctx: HandlerContext): Promise<Reply> {
  const result = await ctx.memory.search(ctx.intent.query, {
    tenantId: ctx.msg.tenantId,
    principals: ctx.principals,
    limit: 8,
    sources: ctx.sources,
    since: ctx.since,
  });
  const hits = result.hits.filter((h) => h.confidence > 0);
  if (hits.length === 0) {
    return makeReply({
      intent: "search",
      found: false,
      text: `I found no documents about “${ctx.intent.query}”.`,
    });
  }
  const citations: Citation[] = hits.map((h, i) => ({
    n: i + 1,
    title: citedTitle(h.doc.title, h.doc.source),
    uri: h.doc.uri,
    heading: h.best.headings.length > 0 ? h.best.headings.join(" > ") : null,
    snippet: h.best.snippet,
    source: h.doc.source,
    docId: h.doc.docId,
  }));
  const head = `Documents about “${ctx.intent.query}”:`;
  const items = citations.map((c) => `${c.title} — ${c.uri}${c.heading ? ` (${c.heading})` : ""}`);
  return makeReply({
    intent: "search",
    text: [head, ...items.map((i, n) => `${n + 1}. ${i}`)].join("\n"),
    blocks: [
      { type: "text", text: head },
      { type: "list", items },
    ],
    citations,
  });
}
