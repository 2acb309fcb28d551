import { parseArgs } from "node:util";
import { runConsoleChat } from "./adapters/console/chat.ts";
import { renderForTerminal } from "./adapters/console/render.ts";
import { toAskJson } from "./cli/ask.ts";
import { readQuestions, runEval } from "./cli/eval.ts";
import { formatSummary, ingestExitCode, ingestFolder } from "./cli/ingest.ts";
import { type CliIo, consoleMessage, openForCli, UsageError } from "./cli/runtime.ts";
import { ConfigError, loadConfig } from "./config.ts";
import type { Atom } from "./main.ts";
import { NOTES_SOURCE } from "./memory/memory.ts";
import { localAudioFile } from "./voice/local.ts";
import { runTranscribe } from "./voice/cli.ts";

const USAGE = `Usage: atom <command> [options]

Commands (atom help <command> shows one):
  serve                          run the HTTP server (Slack, Teams, health, metrics) on PORT
  chat [--docs <dir>]            chat with Atom in the terminal
  ingest <dir>                   index a folder of documents (incremental)
  ask "<question>" [--docs <dir>] [--json]
                                 answer one question from memory
  eval <qa.jsonl>... --docs <dir> [--json] [--verbose]
                                 score answers on question sets (hit@1, hit@5, MRR, fact in answer,
                                 no-answer accuracy)
  sync [--json]                  sync every connection (Google Drive, OneDrive) now
  transcribe <audio file> [--json] [--language <code>|detect]
                                 transcribe a voice note (needs DEEPGRAM_API_KEY)
  keys rotate                    re-encrypt every stored secret (AI keys, connection tokens, Slack
                                 tokens) with ATOM_ENCRYPTION_KEY (old key in ATOM_ENCRYPTION_KEY_PREVIOUS)
  audit [--since 7d] [--json | --csv] [--tenant <id>] [--action <name>]
                                 show or export the audit log (JSON lines or CSV)
  retention [--tenant <id>] [--threads N] [--events N] [--runs N] [--audit N]
                                 show or set a workspace's own retention (days, or "default")

Settings come from the environment (see README): ATOM_DATA_DIR, DATABASE_URL, PORT, ATOM_DOCS_DIR, …`;

/** An unknown command (answered with the whole usage text). */
class UnknownCommandError extends UsageError {}

/**
 * The usage entry of one command (its lines of {@link USAGE}, the indented description included),
 * or undefined when there is no such command.
 */
function commandUsage(command: string): string | undefined {
  const lines = USAGE.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`  ${command} `) || l === `  ${command}`);
  if (start < 0 || command.trim() === "") return undefined;
  let end = start + 1;
  while (end < lines.length && /^ {4,}\S/.test(lines[end]!)) end++;
  return lines.slice(start, end).join("\n");
}

/** The hint after a wrong argument: where that command's usage is (all of it for no command). */
function seeHelp(command: string | undefined): string {
  return command && commandUsage(command) ? `See "atom help ${command}".` : `See "atom help".`;
}

/**
 * Runs the `atom` command. Returns the exit code: 0 success, 1 failure, 2 usage or
 * configuration error.
 */
export async function run(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case "help":
      case "--help":
      case "-h":
        if (command === undefined) {
          io.stderr.write(`${USAGE}\n`);
          return 2;
        }
        if (command === "help" && rest.length > 0) {
          const entry = commandUsage(rest[0]!);
          if (!entry || rest.length > 1) throw new UnknownCommandError(`unknown command "${rest.join(" ")}"`);
          io.stdout.write(`Usage:\n${entry}\n`);
          return 0;
        }
        io.stdout.write(`${USAGE}\n`);
        return 0;
      case "serve":
        return await serveCommand();
      case "ingest":
        return await ingestCommand(rest, io);
      case "ask":
        return await askCommand(rest, io);
      case "chat":
        return await chatCommand(rest, io);
      case "eval":
        return await evalCommand(rest, io);
      case "transcribe":
        return await transcribeCommand(rest, io);
      case "sync":
        return await syncCommand(rest, io);
      case "keys":
        return await keysCommand(rest, io);
      case "audit":
        return await (await import("./cli/audit.ts")).runAudit(rest, io, openForCli);
      case "retention":
        return await (await import("./cli/retention.ts")).runRetention(rest, io, openForCli);
      default:
        throw new UnknownCommandError(`unknown command "${command}"`);
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    // The whole usage only when the command or a flag is unknown; a wrong argument or value gets
    // its one-line reason and where that command's usage is.
    if (err instanceof UnknownCommandError || code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      io.stderr.write(`atom: ${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof UsageError || code?.startsWith("ERR_PARSE_ARGS")) {
      io.stderr.write(`atom: ${(err as Error).message}\n${seeHelp(command)}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`atom: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`atom: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Entry point used by bin/atom.js: runs and exits with the command's code. */
export async function main(argv: string[]): Promise<void> {
  const code = await run(argv);
  if (code !== 0 || !["serve", "chat"].includes(argv[0] ?? "")) {
    process.exitCode = code;
    // One-shot commands exit once output is flushed, even if a library keeps a handle open.
    if (argv[0] !== "serve") setTimeout(() => process.exit(code), 50).unref();
  }
}

async function withAtom<T>(fn: (atom: Atom) => Promise<T>): Promise<T> {
  const atom = await openForCli();
  try {
    return await fn(atom);
  } finally {
    await atom.close();
  }
}

/**
 * `atom keys rotate`: re-seals every stored secret (AI keys, connection tokens and MSAL caches,
 * Slack installation tokens, pending sign-ins) under the current master key, in one transaction;
 * prints counts per kind. Exit 1, nothing changed, when some value no known key opens.
 */
async function keysCommand(args: string[], io: CliIo): Promise<number> {
  if (args[0] !== "rotate" || args.length > 1) throw new UsageError("keys needs: rotate");
  return withAtom(async (atom) => {
    const { rotateSealedSecrets } = await import("./cli/keys-rotate.ts");
    const { createSealer, parsePreviousKeys } = await import("./security/crypto.ts");
    const sealer = createSealer(
      atom.masterKey(),
      parsePreviousKeys(atom.config.env.ATOM_ENCRYPTION_KEY_PREVIOUS),
    );
    const r = await rotateSealedSecrets(atom.db, sealer);
    for (const c of r.counts) {
      io.stdout.write(
        `${c.kind}: ${c.resealed} re-encrypted, ${c.current} already current, ${c.unreadable} unreadable\n`,
      );
    }
    if (!r.committed) {
      io.stderr.write(
        "atom: nothing was changed: some values could not be opened; set the old key in ATOM_ENCRYPTION_KEY_PREVIOUS and run again\n",
      );
      return 1;
    }
    return 0;
  });
}

async function ingestCommand(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const dir = positionals[0];
  if (!dir || positionals.length > 1) throw new UsageError("ingest needs exactly one folder");
  return withAtom(async (atom) => {
    const summary = await ingestFolder(atom.memory, dir, io);
    io.stdout.write(`${formatSummary(summary)}\n`);
    const code = ingestExitCode(summary);
    if (code !== 0) io.stderr.write("atom: no file could be indexed (see the reasons above)\n");
    return code;
  });
}

async function askCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { docs: { type: "string" }, json: { type: "boolean", default: false } },
  });
  const question = positionals.join(" ").trim();
  if (question === "")
    throw new UsageError('ask needs a question, e.g. atom ask "how much is the home office budget?"');
  return withAtom(async (atom) => {
    // With --docs, the answer comes from that folder (and notes), not from every folder indexed before.
    let sources: string[] | undefined;
    if (values.docs) {
      const summary = await ingestFolder(atom.memory, values.docs, io, values.json);
      sources = [summary.source, NOTES_SOURCE];
      if (!values.json && (summary.added > 0 || summary.updated > 0 || summary.errors.length > 0)) {
        io.stderr.write(`${formatSummary(summary)}\n`);
      }
    }
    const reply = await atom.bot.handle(consoleMessage(question), { sources });
    io.stdout.write(values.json ? `${JSON.stringify(toAskJson(reply))}\n` : `${renderForTerminal(reply)}\n`);
    return 0;
  });
}

async function chatCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args, allowPositionals: false, options: { docs: { type: "string" } } });
  return withAtom(async (atom) => {
    let sources: string[] | undefined;
    if (values.docs) {
      const summary = await ingestFolder(atom.memory, values.docs, io);
      io.stderr.write(`${formatSummary(summary)}\n`);
      sources = [summary.source, NOTES_SOURCE];
    }
    await runConsoleChat(atom.bot, io, {
      sources,
      fileForLine: async (line) => {
        const file = await localAudioFile(line);
        return file ? [file] : [];
      },
    });
    return 0;
  });
}

async function evalCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      docs: { type: "string" },
      json: { type: "boolean", default: false },
      verbose: { type: "boolean", default: false },
    },
  });
  if (positionals.length === 0) throw new UsageError("eval needs a question file");
  if (!values.docs) throw new UsageError("eval needs --docs <dir>");
  const questions = positionals.flatMap((file) => readQuestions(file));
  return withAtom(async (atom) => {
    const summary = await ingestFolder(atom.memory, values.docs!, io, values.json);
    const { scores, cases } = await runEval(atom.bot, questions, { sources: [summary.source] });
    if (values.json) {
      io.stdout.write(`${JSON.stringify(scores)}\n`);
      return 0;
    }
    if (values.verbose) {
      for (const c of cases) {
        const mark =
          c.expected.length === 0
            ? c.found
              ? "✗ answered"
              : "✓ no answer"
            : c.rank
              ? `✓ rank ${c.rank}`
              : c.found
                ? "✗ missed"
                : "✗ not found";
        const fact = c.fact ? `\n    fact ${c.factInAnswer ? "✓" : "✗"}: ${c.fact}` : "";
        io.stdout.write(`${c.id} ${mark}: ${c.question}\n    cited: ${c.cited.join(", ") || "-"}${fact}\n`);
      }
    }
    io.stdout.write(
      `questions: ${scores.n}\nhit@1: ${scores.hit_at_1}\nhit@5: ${scores.hit_at_5}\nMRR: ${scores.mrr}\nfact in answer: ${scores.fact_in_answer}\nno-answer accuracy: ${scores.no_answer_accuracy}\n`,
    );
    return 0;
  });
}

async function syncCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    allowPositionals: false,
    options: { json: { type: "boolean", default: false } },
  });
  const { runSync } = await import("./cli/sync.ts");
  return withAtom((atom) => runSync(atom, io, { json: values.json }));
}

async function transcribeCommand(args: string[], io: CliIo): Promise<number> {
  return runTranscribe(args, io);
}

async function serveCommand(): Promise<number> {
  const config = loadConfig();
  const { startServer } = await import("./main.ts");
  const server = await startServer(config);
  const stop = async (signal: string) => {
    server.atom.logger.info({ signal }, "shutting down");
    await server.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  return 0;
}
