import type { Bot, HandleOptions } from "../bot/types.ts";
import type { Citation, Reply } from "../bot/reply.ts";
import { consoleMessage } from "./runtime.ts";

/** The `atom ask --json` output: exactly this object. */
export interface AskJson {
  answer: string;
  found: boolean;
  citations: { n: number; title: string; uri: string; heading: string | null; snippet: string }[];
}

/** Asks the bot one question as the terminal user and returns the `--json` shape. */
export async function askOnce(bot: Bot, question: string, opts: HandleOptions = {}): Promise<AskJson> {
  return toAskJson(await bot.handle(consoleMessage(question), opts));
}

/** The `--json` shape of a reply. */
export function toAskJson(reply: Reply): AskJson {
  return {
    answer: reply.text,
    found: reply.found,
    citations: reply.citations.map((c: Citation) => ({
      n: c.n,
      title: c.title,
      uri: c.uri,
      heading: c.heading,
      snippet: c.snippet,
    })),
  };
}
