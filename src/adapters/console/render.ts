import { formatCitationLine } from "../../bot/answer.ts";
import type { Reply } from "../../bot/reply.ts";

/** Renders a reply for a terminal: body blocks, then numbered sources. */
export function renderForTerminal(reply: Reply): string {
  const out: string[] = [];
  for (const b of reply.blocks) {
    if (b.type === "text") out.push(b.text);
    else if (b.type === "quote") out.push(`  “${b.text}”${b.citation ? ` [${b.citation}]` : ""}`);
    else out.push(...b.items.map((i) => `  • ${i}`));
  }
  if (reply.citations.length > 0 && reply.intent === "ask") {
    out.push("", "Sources:", ...reply.citations.map((c) => `  ${formatCitationLine(c)}`));
  }
  return out.join("\n");
}
