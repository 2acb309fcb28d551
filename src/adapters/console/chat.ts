import { randomUUID } from "node:crypto";
import readline from "node:readline";
import type { Bot } from "../../bot/types.ts";
import type { ChatFile } from "../../core/ports.ts";
import type { CliIo } from "../../cli/runtime.ts";
import { consoleMessage } from "../../cli/runtime.ts";
import { renderForTerminal } from "./render.ts";

/**
 * Interactive terminal chat over the same bot core Slack and Teams use. Every line is one
 * message in one thread (so follow-ups see earlier turns); `exit`, `quit` or end of input stops.
 * `fileForLine` may turn a typed line into file attachments (e.g. a path to a voice note).
 */
export async function runConsoleChat(
  bot: Bot,
  io: CliIo,
  opts: { prompt?: string; fileForLine?: (line: string) => Promise<ChatFile[]>; sources?: string[] } = {},
): Promise<void> {
  const threadId = randomUUID();
  const rl = readline.createInterface({ input: io.stdin ?? process.stdin, terminal: false });
  const prompt = opts.prompt ?? "you> ";
  const interactive = Boolean((io.stdout as { isTTY?: boolean }).isTTY);
  if (interactive) io.stdout.write(`Atom — ask a question, or type "help". Ctrl-D to quit.\n${prompt}`);
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === "exit" || line === "quit") break;
    if (line !== "") {
      const msg = consoleMessage(line, threadId);
      const files = (await opts.fileForLine?.(line)) ?? [];
      if (files.length > 0) {
        msg.files = files;
        msg.text = "";
      }
      const reply = await bot.handle(msg, {
        sources: opts.sources,
        progress: async (r) => {
          io.stdout.write(`atom> ${renderForTerminal(r)}\n`);
        },
      });
      io.stdout.write(`atom> ${renderForTerminal(reply)}\n`);
    }
    if (interactive) io.stdout.write(prompt);
  }
  rl.close();
}
