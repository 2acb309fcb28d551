import { randomUUID } from "node:crypto";
import type { ChatAction, ChatMessage } from "../core/ports.ts";
import { classifyWithModel } from "../ai/intents.ts";
import type { AiService } from "../ai/service.ts";
import { limitText, type RateLimiter } from "../core/rate-limits.ts";
import type { Config } from "../config.ts";
import { countAnswer } from "../db/dashboard.ts";
import type { Db } from "../db/index.ts";
import type { Memory } from "../memory/memory.ts";
import type { Logger } from "../observability/logger.ts";
import { answersByModeTotal, answersTotal } from "../observability/metrics.ts";
import { principalsFor } from "../security/permissions.ts";
import { DEFAULT_MIN_CONFIDENCE } from "./answer.ts";
import { askReply } from "./handlers/ask.ts";
import type { HandlerContext } from "./handlers/context.ts";
import { filesReply, helpReply } from "./handlers/help.ts";
import { rememberReply } from "./handlers/remember.ts";
import { searchReply } from "./handlers/search.ts";
import { smallTalkReply } from "./handlers/smalltalk.ts";
import { statusReply } from "./handlers/status.ts";
import { parseFilters } from "./filters.ts";
import { classify } from "./intents.ts";
import { hasPastedKey } from "../security/pasted-keys.ts";
import { makeReply, type Reply } from "./reply.ts";
import type {
  ActionHandlerSpec,
  Bot,
  CommandSpec,
  FeedbackInput,
  HandleOptions,
  Intent,
  StatusContributor,
} from "./types.ts";
import {
  formatTranscriptQuote,
  SUPPORTED_AUDIO_FORMATS,
  transcriptQuoteBlocks,
  type VoiceNotes,
} from "../voice/index.ts";

export interface BotDeps {
  db: Db;
  memory: Memory;
  logger: Logger;
  config?: Config;
  /** Voice notes (transcription); messages with audio files are ignored without it. */
  voice?: VoiceNotes;
  /**
   * The e-mail domains of a tenant's own organisation: documents shared with them may answer in
   * a channel that is not shared with other organisations (security/org-domains.ts).
   */
  orgDomains?: (tenantId: string) => Promise<string[]>;
  /** Overrides the answer confidence threshold (default: ATOM_ANSWER_MIN_SCORE or the calibrated one). */
  minConfidence?: number;
  /** Generated answers, intents and usage with the workspace's own AI key (src/ai/). */
  ai?: AiService;
  /** Limits questions and transcriptions per user and workspace; no limits without it. */
  limiter?: RateLimiter;
}

/** Earlier user turns of a thread that are taken into account. */
const HISTORY_TURNS = 6;
/** Longest message text handled, in characters; longer text is cut. */
const MAX_TEXT = 8000;

/**
 * Message text as the core handles it: cut to MAX_TEXT characters, NUL characters removed
 * (PostgreSQL text cannot hold them, so storing the thread turn would fail).
 */
function cleanText(text: string): string {
  return text.replace(/\u0000/g, "").slice(0, MAX_TEXT);
}

/** The warning for a message that holds an API key (shown only to its author). */
function pastedKeyReply(): Reply {
  return makeReply({
    intent: "pasted_key",
    text:
      "That message looks like it contains an API key. I did not store or use it — but it is now in this chat's history, " +
      "so please revoke it at your provider, delete the message, and create a new one. Keys belong on Atom's settings " +
      "page: a workspace admin types “settings” to get a private link.",
    visibility: "ephemeral",
    found: false,
  });
}

/**
 * Creates the platform-neutral bot core: classify → handle → store turns → Reply.
 * Handler failures become an apologetic reply (logged with their cause), never an exception.
 */
export function createBot(deps: BotDeps): Bot {
  const statusContributors: StatusContributor[] = [];
  const commands: CommandSpec[] = [];
  const actionHandlers: ActionHandlerSpec[] = [];
  const minConfidence =
    deps.minConfidence ?? deps.config?.env.ATOM_ANSWER_MIN_SCORE ?? DEFAULT_MIN_CONFIDENCE;
  const { db, logger } = deps;

  async function history(msg: ChatMessage): Promise<string[]> {
    const r = await db.query<{ text: string }>(
      `SELECT text FROM thread_turns WHERE tenant_id = $1 AND platform = $2 AND channel_id = $3 AND thread_id = $4
       AND role = 'user' ORDER BY id DESC LIMIT $5`,
      [msg.tenantId, msg.platform, msg.channelId, msg.threadId, HISTORY_TURNS],
    );
    return r.rows.map((x) => x.text).reverse();
  }

  async function storeTurn(msg: ChatMessage, role: "user" | "assistant", text: string): Promise<void> {
    await db.query(
      `INSERT INTO thread_turns (tenant_id, platform, channel_id, thread_id, role, user_id, text)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        msg.tenantId,
        msg.platform,
        msg.channelId,
        msg.threadId,
        role,
        role === "user" ? msg.userId : null,
        text,
      ],
    );
  }

  /** Applies `in:` / `since:` filters of a question or search to the intent and the sources. */
  async function withFilters(
    msg: ChatMessage,
    intent: Intent,
    sources: string[] | undefined,
  ): Promise<{ intent: Intent; sources?: string[]; since?: number }> {
    if (intent.kind !== "ask" && intent.kind !== "search") return { intent, sources };
    const f = parseFilters(intent.query);
    if (!f.kinds && f.since === undefined) return { intent, sources };
    let selected = sources;
    if (f.kinds) {
      const ofKind = (await deps.memory.status(msg.tenantId))
        .filter((s) => f.kinds!.includes(s.kind))
        .map((s) => s.sourceId)
        .filter((id) => !sources || sources.includes(id));
      // No source of that kind: search nothing rather than everything.
      selected = ofKind.length > 0 ? ofKind : ["(none)"];
    }
    return { intent: { ...intent, query: f.text || intent.query }, sources: selected, since: f.since };
  }

  async function route(
    msg: ChatMessage,
    requested?: string[],
    stream?: HandleOptions["stream"],
  ): Promise<Reply> {
    let classified = classify(msg.text, commands);
    // With a key, a message the rules only guessed at is classified by the model (rules stay the fallback).
    if (deps.ai) {
      const byModel = await classifyWithModel(
        deps.ai,
        msg.tenantId,
        `${msg.platform}:${msg.userId}`,
        msg.text,
        classified,
      );
      if (byModel) classified = byModel;
    }
    const { intent, sources, since } = await withFilters(msg, classified, requested);
    const orgDomains = deps.orgDomains ? await deps.orgDomains(msg.tenantId) : [];
    const ctx: HandlerContext = {
      msg,
      intent,
      principals: principalsFor(msg, orgDomains),
      history: await history(msg),
      db,
      memory: deps.memory,
      logger,
      config: deps.config,
      statusContributors,
      minConfidence,
      sources,
      since,
      ai: deps.ai,
      stream,
    };
    const command = commands.find((c) => c.kind === intent.kind);
    if (command) return command.handle(ctx);
    // The terminal (`atom ask`, `atom eval`, `atom chat`) is the operator's own: never limited.
    if (deps.limiter && msg.platform !== "console" && (intent.kind === "ask" || intent.kind === "search")) {
      const d = await deps.limiter.check("question", msg);
      if (!d.ok)
        return makeReply({ intent: "rate_limited", text: limitText("question", d), visibility: "ephemeral" });
    }
    switch (intent.kind) {
      case "help":
        return helpReply(commands.flatMap((c) => c.help ?? []));
      case "smalltalk":
        return smallTalkReply(intent.query);
      case "status":
        return statusReply(ctx);
      case "remember":
        return rememberReply(ctx);
      case "search":
        return searchReply(ctx);
      default:
        return askReply(ctx);
    }
  }

  async function recordFeedback(input: FeedbackInput): Promise<boolean> {
    const r = await db.query(
      `INSERT INTO feedback (tenant_id, platform, answer_id, user_id, rating, question, answer, sources)
       SELECT a.tenant_id, $2, a.answer_id, $4, $5, a.question, a.answer, a.sources
       FROM answers a WHERE a.answer_id = $3 AND a.tenant_id = $1
       ON CONFLICT (tenant_id, platform, answer_id, user_id) DO NOTHING
       RETURNING id`,
      [input.tenantId, input.platform, input.answerId, input.userId, input.rating],
    );
    return r.rowCount > 0;
  }

  actionHandlers.push({
    prefix: "feedback_",
    async handle(action: ChatAction) {
      if (action.actionId !== "feedback_up" && action.actionId !== "feedback_down") return undefined;
      if (!action.value) return undefined;
      const fresh = await recordFeedback({
        tenantId: action.tenantId,
        platform: action.platform,
        answerId: action.value,
        userId: action.userId,
        rating: action.actionId === "feedback_up" ? "up" : "down",
      });
      return makeReply({
        intent: "feedback",
        text: fresh ? "Thanks — your feedback was recorded." : "You already rated this answer.",
        visibility: "ephemeral",
      });
    },
  });

  return {
    async handle(msg: ChatMessage, opts: HandleOptions = {}): Promise<Reply> {
      // A pasted API key: warn, store nothing (no thread turn, no answer row), log no text.
      if (hasPastedKey(msg.text)) return pastedKeyReply();
      let text = cleanText(msg.text);
      let reply: Reply;
      let prefix: Reply | undefined;
      try {
        const audio = deps.voice ? msg.files.find((f) => deps.voice!.isVoiceNote(f)) : undefined;
        if (audio && deps.voice) {
          const d =
            deps.limiter && msg.platform !== "console"
              ? await deps.limiter.check("transcription", msg)
              : { ok: true as const };
          if (!d.ok) {
            return makeReply({
              intent: "rate_limited",
              text: limitText("transcription", d),
              found: false,
              visibility: "ephemeral",
            });
          }
          const result = await deps.voice.transcribe(audio, {
            tenantId: msg.tenantId,
            speaker: msg.userEmail ?? msg.userId,
            user: `${msg.platform}:${msg.userId}`,
          });
          if (!result.ok) {
            return makeReply({
              intent: "voice",
              text: result.message,
              found: false,
              visibility: msg.visibility,
            });
          }
          if (result.transcript.trim() === "") {
            return makeReply({
              intent: "voice",
              text: "I couldn't hear any speech in that clip.",
              found: false,
              visibility: msg.visibility,
            });
          }
          const quote = makeReply({
            intent: "transcript",
            text: formatTranscriptQuote(result),
            blocks: transcriptQuoteBlocks(result),
            visibility: msg.visibility,
          });
          if (opts.progress) await opts.progress(quote);
          else prefix = quote;
          text = cleanText(result.transcript);
        }
        const message = { ...msg, text };
        // A file without a question (and not a voice note): say what Atom reads, not the help card.
        reply =
          !audio && text.trim() === "" && msg.files.length > 0 && !msg.files.some((f) => f.isVoiceNote)
            ? filesReply(SUPPORTED_AUDIO_FORMATS)
            : await route(message, opts.sources, opts.stream);
        if (prefix) {
          reply = {
            ...reply,
            text: `${prefix.text}\n\n${reply.text}`,
            blocks: [...prefix.blocks, ...reply.blocks],
          };
        }
        if (reply.intent === "ask" && reply.found) {
          reply.answerId = randomUUID();
          reply.actions = [
            { id: "feedback_up", label: "👍", value: reply.answerId },
            { id: "feedback_down", label: "👎", value: reply.answerId },
          ];
          await db.query(
            `INSERT INTO answers (answer_id, tenant_id, platform, question, answer, sources)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
            [reply.answerId, msg.tenantId, msg.platform, text, reply.text, JSON.stringify(reply.citations)],
          );
        }
        if (text.trim() !== "") {
          await storeTurn(message, "user", text);
          await storeTurn(message, "assistant", reply.text);
        }
      } catch (err) {
        logger.error({ err, platform: msg.platform, tenantId: msg.tenantId }, "handling a message failed");
        reply = makeReply({
          intent: "error",
          text: "Sorry — something went wrong while I was working on that. Please try again in a moment.",
          found: false,
        });
      }
      answersTotal.inc({ platform: msg.platform, intent: reply.intent, found: String(reply.found) });
      if (reply.intent === "ask") {
        const mode = !reply.found ? "not_found" : reply.generated ? "generated" : "extractive";
        answersByModeTotal.inc({ platform: msg.platform, mode });
        await countAnswer(db, msg.tenantId, mode).catch((err: unknown) =>
          logger.warn({ err }, "counting the answer for the dashboard failed"),
        );
      }
      // A handler may keep its reply to the asker only (a sign-in link); otherwise the reply is seen
      // as the message was.
      return { ...reply, visibility: reply.visibility === "ephemeral" ? "ephemeral" : msg.visibility };
    },

    recordFeedback,

    async isInThread(ref) {
      const r = await db.query(
        `SELECT 1 FROM thread_turns WHERE tenant_id = $1 AND platform = $2 AND channel_id = $3 AND thread_id = $4 LIMIT 1`,
        [ref.tenantId, ref.platform, ref.channelId, ref.threadId],
      );
      return r.rowCount > 0;
    },

    addStatusContributor(fn: StatusContributor) {
      statusContributors.push(fn);
    },

    registerCommand(spec: CommandSpec) {
      if (
        ["help", "ask", "search", "status", "remember"].includes(spec.kind) ||
        commands.some((c) => c.kind === spec.kind)
      ) {
        throw new Error(`a command of kind ${spec.kind} is already registered`);
      }
      commands.push(spec);
    },

    registerActionHandler(spec: ActionHandlerSpec) {
      if (actionHandlers.some((h) => h.prefix === spec.prefix)) {
        throw new Error(`an action handler for ${spec.prefix} is already registered`);
      }
      actionHandlers.push(spec);
    },

    async handleAction(action: ChatAction) {
      const handler = actionHandlers.find((h) => action.actionId.startsWith(h.prefix));
      if (!handler) return undefined;
      try {
        return await handler.handle(action);
      } catch (err) {
        logger.error(
          { err, platform: action.platform, actionId: action.actionId },
          "handling a button failed",
        );
        return makeReply({
          intent: "error",
          text: "Sorry — something went wrong while I was working on that. Please try again in a moment.",
          found: false,
          visibility: "ephemeral",
        });
      }
    },
  };
}
