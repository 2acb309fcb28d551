import type { SearchResult } from "../../memory/types.ts";
import { extractiveAnswer, formatCitationLine } from "../answer.ts";
import { makeReply, type Reply } from "../reply.ts";
import type { HandlerContext } from "./context.ts";

/**
 * Answers a question from memory. Without an AI key the answer is extractive: the best passages,
 * quoted, with numbered citations. When the thread has earlier questions and the question alone
 * finds nothing, it is searched again together with the previous question (a follow-up such as
 * "and for contractors?"). When memory has no good match the reply says so and names what was
 * searched.
 */
/** Documents read whole so the answer can quote any of their sentences (the cited ones). */
const READ_DOCUMENTS = 5;

export async function askReply(ctx: HandlerContext): Promise<Reply> {
  const question = ctx.intent.query;
  const search = (q: string): Promise<SearchResult> =>
    ctx.memory.search(q, {
      tenantId: ctx.msg.tenantId,
      principals: ctx.principals,
      limit: 5,
      sources: ctx.sources,
      readDocuments: READ_DOCUMENTS,
      since: ctx.since,
    });
  // "searching…" in Slack while Atom works, when a model will answer.
  if (ctx.ai && ctx.stream?.status && (await ctx.ai.answerModel(ctx.msg.tenantId))) {
    await ctx.stream.status("searching…").catch(() => {});
  }
  let result = await search(question);
  let answer = extractiveAnswer(result, ctx.minConfidence, question);
  const previous = ctx.history.at(-1);
  if (!answer.found && previous) {
    result = await search(`${previous} ${question}`);
    answer = extractiveAnswer(result, ctx.minConfidence, `${previous} ${question}`);
  }
  if (!answer.found) return makeReply({ intent: "ask", text: await notFoundText(ctx), found: false });
  // With a key: a generated answer from the same passages, checked; the extractive one otherwise.
  const generated = ctx.ai
    ? await ctx.ai.generate({
        msg: ctx.msg,
        question,
        history: ctx.history,
        hits: result.hits,
        stream: ctx.stream,
      })
    : { kind: "none" as const };
  if (generated.kind === "answer") {
    const text = [generated.text, "", "Sources:", ...generated.citations.map(formatCitationLine)].join("\n");
    return makeReply({
      intent: "ask",
      text,
      blocks: [{ type: "text", text: generated.text }],
      citations: generated.citations,
      found: true,
      generated: true,
    });
  }
  if (generated.kind === "not_found") {
    return makeReply({ intent: "ask", text: await notFoundText(ctx), found: false });
  }
  const note = generated.kind === "fallback" && generated.note ? generated.note : undefined;
  return makeReply({
    intent: "ask",
    text: note ? `${answer.text}\n\n${note}` : answer.text,
    blocks: note ? [...answer.blocks, { type: "text", text: note }] : answer.blocks,
    citations: answer.citations,
    found: true,
  });
}

/** "I couldn't find that…" plus the sources that were searched. */
async function notFoundText(ctx: HandlerContext): Promise<string> {
  const withDocuments = (await ctx.memory.status(ctx.msg.tenantId)).filter((s) => s.documents > 0);
  const sources = withDocuments.filter((s) => !ctx.sources || ctx.sources.includes(s.sourceId));
  const list = (of: typeof sources) => ({
    total: of.reduce((s, x) => s + x.documents, 0),
    names: of.map((s) => `${s.label} (${s.documents})`).join(", "),
  });
  if (sources.length === 0) {
    // A filter (`in:drive`) may name sources that are empty while others are not: say so.
    if (ctx.sources && withDocuments.length > 0) {
      const all = list(withDocuments);
      return `I couldn't find that: the sources you picked have no documents yet (all your sources together: ${all.total} documents in ${all.names}).`;
    }
    return "I couldn't find that in your connected sources: no documents are connected yet.";
  }
  const { total, names } = list(sources);
  return `I couldn't find that in your connected sources. I searched ${total} documents in: ${names}.`;
}
