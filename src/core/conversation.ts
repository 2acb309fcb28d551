/**
 * The one conversation pipeline of Atom (DESIGN.md, Core flows → Message): every platform's
 * inbound message and button press goes through here, so Slack and Teams follow the same rules.
 *
 * 1. On the ack path the adapter verifies the request and calls {@link Conversations.accept}: one
 *    job row keyed by the event's identity (a duplicate delivery stops at that INSERT). Then it acks.
 * 2. A worker claims the job ({@link JobWorker}) and the adapter turns the stored payload into a
 *    {@link ChatMessage} or {@link ChatAction} (resolving tenant, credentials and the asker's e-mail
 *    off the ack path).
 * 3. The core decides whether the message is for Atom (DM, mention, or a thread Atom takes part
 *    in), applies the loop guard, shows a working signal for slow answers, transcribes and answers
 *    through the {@link Bot}, and hands each reply back to the adapter to post in the thread.
 * 4. The job completes; transient send failures are retried with backoff, permanent ones
 *    (the adapter throws {@link PermanentJobError}) go to the dead-letter state with the reason.
 */
import type { Bot } from "../bot/types.ts";
import type { Job } from "../db/jobs.ts";
import type { Logger } from "../observability/logger.ts";
import { currentRequestId, withRequestId } from "../observability/request-context.ts";
import type { ChatAction, ChatMessage, Platform, Reply, ReplyStream } from "./ports.ts";
import { PermanentJobError, type JobWorker } from "./worker.ts";
import { redactPastedKeysDeep } from "../security/pasted-keys.ts";
import {
  CumulativeReplyStream,
  type CumulativeStreamLimits,
  type CumulativeStreamTransport,
} from "./cumulative-stream.ts";

/** The queue inbound deliveries wait in. */
export const INBOUND_QUEUE = "inbound";

/** What an adapter stores on the ack path: its own raw payload, kept until a worker handles it. */
export interface InboundEnvelope<B = unknown> {
  platform: Platform;
  /** `message` (a person wrote something) or `action` (a button press). */
  kind: "message" | "action";
  /** The platform payload as received (no secrets: tokens are never part of it). */
  body: B;
  /** Id of the webhook request that delivered it; the worker logs under the same id. */
  requestId?: string;
}

/** A normalised inbound message plus whatever the adapter needs to answer it (e.g. a response URL). */
export interface InboundTurn<C = unknown> {
  message: ChatMessage;
  /** Adapter-private reply context, handed back to {@link ConversationAdapter.send}. */
  context: C;
}

/** A {@link ReplyStream} as the adapter gives it to the pipeline, which finishes it. */
export interface AdapterReplyStream extends ReplyStream {
  /** Whether a message was started (then the reply is delivered by {@link finish}, not `send`). */
  readonly started: boolean;
  /** Completes the streamed message with the final reply (sources, buttons), or replaces its text. */
  finish(reply: Reply): Promise<void>;
}

/** A normalised button press plus the adapter's reply context. */
export interface InboundAction<C = unknown> {
  action: ChatAction;
  context: C;
}

/**
 * What each platform adapter implements for the pipeline. Methods run in the worker, never on the
 * ack path, and may call the platform's API.
 */
export interface ConversationAdapter<B = unknown, C = unknown> {
  readonly platform: Platform;
  /**
   * Turns a stored message payload into a turn, or `null` when it is not something Atom answers
   * (its own message, an edit, a workspace that is not allowed — say why in `reason` for the log).
   * @throws PermanentJobError for a payload that can never be handled (malformed).
   */
  toTurn(body: B): Promise<InboundTurn<C> | { ignored: string }>;
  /**
   * Posts a reply in the turn's thread (or privately, per `reply.visibility`).
   * @throws PermanentJobError when the platform refuses for good (channel gone, bot removed);
   *   any other error is retried.
   */
  send(turn: InboundTurn<C>, reply: Reply): Promise<void>;
  /**
   * Starts a working signal (typing indicator, reaction) on a turn that takes a while.
   * @returns a function that removes it.
   */
  working?(turn: InboundTurn<C>): Promise<() => Promise<void>>;
  /**
   * A stream for the turn's answer (Slack `chat.startStream`), or undefined when this turn cannot
   * stream (a slash command). Used only if the answer is generated. Platforms with cumulative
   * updates give {@link ConversationAdapter.cumulativeStream} instead.
   */
  openStream?(turn: InboundTurn<C>): AdapterReplyStream | undefined;
  /**
   * For platforms whose stream updates carry the whole text so far (Teams): where they can stream
   * and how updates are posted. The core decides whether a turn streams (`direct`: only in a 1:1
   * conversation, never for a private reply) and runs the protocol ({@link CumulativeReplyStream}).
   */
  cumulativeStream?: {
    where: "direct" | "any";
    limits: CumulativeStreamLimits;
    transport(turn: InboundTurn<C>): CumulativeStreamTransport;
  };
  /** Turns a stored button press into an action, or `{ ignored }`. */
  toAction?(body: B): Promise<InboundAction<C> | { ignored: string }>;
  /** Tells the presser the result of a button press (privately where the platform allows). */
  answerAction?(action: InboundAction<C>, reply: Reply): Promise<void>;
}

/** Settings of the pipeline. */
export interface ConversationOptions {
  /** Inbound jobs handled at once per process (default 16). */
  concurrency?: number;
  /** The working signal appears when an answer takes longer than this, ms (default 400). */
  workingSignalAfterMs?: number;
  /** Loop guard: at most `max` replies per thread within `windowMs` (default 10 per 10 minutes). */
  loopGuard?: { max: number; windowMs: number };
  /** Attempts before an inbound job goes dead (default 5). */
  maxAttempts?: number;
  /**
   * Lease of an inbound job, ms (default 60 000): a job left by a dead process is taken over this
   * long after its last heartbeat.
   */
  leaseMs?: number;
}

/** The pipeline as adapters and `main.ts` see it. */
export interface Conversations {
  /** Registers a platform's adapter. @throws when that platform already has one. */
  register<B, C>(adapter: ConversationAdapter<B, C>): void;
  /**
   * Records one inbound delivery durably (the only work an adapter does before its ack).
   * @param key the event's identity within the platform workspace, e.g. `C123:1700000000.0001`.
   * @param workspace the platform workspace it came from (Slack team, Entra tenant), for dedupe scope.
   * @returns `duplicate` when this identity was already accepted (a retry or a twin event).
   */
  accept(
    envelope: InboundEnvelope,
    identity: { workspace: string; key: string },
  ): Promise<"accepted" | "duplicate">;
}

type Outcome = { handled: true } | { ignored: string };

/**
 * Creates the pipeline on a job worker and registers its queue handler.
 * The bot's replies are posted through the adapter of the envelope's platform.
 */
export function createConversations(deps: {
  bot: Bot;
  jobs: JobWorker;
  logger: Logger;
  options?: ConversationOptions;
}): Conversations {
  const { bot, jobs } = deps;
  const opts = deps.options ?? {};
  const log = deps.logger.child({ component: "conversations" });
  const adapters = new Map<Platform, ConversationAdapter<unknown, unknown>>();
  const workingAfter = opts.workingSignalAfterMs ?? 400;
  const guard = opts.loopGuard ?? { max: 10, windowMs: 10 * 60_000 };
  const recentReplies = new Map<string, number[]>();

  /** In-process loop guard (a runaway bot-to-bot exchange is stopped per thread). */
  const underLoopCap = (key: string): boolean => {
    const now = Date.now();
    const list = (recentReplies.get(key) ?? []).filter((t) => now - t < guard.windowMs);
    if (list.length >= guard.max) {
      recentReplies.set(key, list);
      return false;
    }
    list.push(now);
    recentReplies.set(key, list);
    if (recentReplies.size > 10_000) {
      for (const [k, v] of recentReplies)
        if (v.every((t) => now - t >= guard.windowMs)) recentReplies.delete(k);
    }
    return true;
  };

  async function handleMessage(
    adapter: ConversationAdapter<unknown, unknown>,
    body: unknown,
  ): Promise<Outcome> {
    const turn = await adapter.toTurn(body);
    if ("ignored" in turn) return turn;
    const msg = turn.message;
    if (!msg.isDirect && !msg.mentionsBot) {
      const inThread = await bot.isInThread({
        tenantId: msg.tenantId,
        platform: msg.platform,
        channelId: msg.channelId,
        threadId: msg.threadId,
      });
      if (!inThread) return { ignored: "not addressed to Atom" };
    }
    if (!underLoopCap(`${msg.platform}:${msg.tenantId}:${msg.channelId}:${msg.threadId}`)) {
      log.warn(
        { platform: msg.platform, channelId: msg.channelId },
        "loop guard: too many replies in this thread",
      );
      return { ignored: "loop guard" };
    }
    let stopWorking: (() => Promise<void>) | undefined;
    let starting: Promise<void> | undefined;
    const signal = adapter.working
      ? setTimeout(() => {
          starting = adapter.working!(turn).then(
            (stop) => {
              stopWorking = stop;
            },
            (err: unknown) => log.debug({ err }, "working signal failed"),
          );
        }, workingAfter)
      : undefined;
    /** Ends the working signal (at most once); never throws. */
    const endWorking = async () => {
      if (signal) clearTimeout(signal);
      if (starting) await starting;
      const stop = stopWorking;
      stopWorking = undefined;
      if (stop) await stop().catch((err: unknown) => log.debug({ err }, "removing working signal failed"));
    };
    try {
      const stream = openStream(adapter, turn, () => void endWorking());
      const reply = await bot.handle(msg, { progress: (r) => adapter.send(turn, r), stream });
      // The signal ends before the answer goes out, so it never shows after the answer
      // (e.g. a typing indicator posted while the answer was on its way).
      await endWorking();
      if (stream?.started) await stream.finish(reply);
      else await adapter.send(turn, reply);
    } finally {
      await endWorking();
    }
    return { handled: true };
  }

  /**
   * The stream a turn's generated answer goes to, if any: the adapter's own (Slack), or the core's
   * cumulative stream where the adapter's platform allows it for this conversation (Teams 1:1).
   * `onStart` ends the working signal once streamed text shows.
   */
  function openStream(
    adapter: ConversationAdapter<unknown, unknown>,
    turn: InboundTurn<unknown>,
    onStart: () => void,
  ): AdapterReplyStream | undefined {
    const cs = adapter.cumulativeStream;
    if (cs) {
      const msg = turn.message;
      if (msg.visibility === "ephemeral" || (cs.where === "direct" && !msg.isDirect)) return undefined;
      return new CumulativeReplyStream(cs.transport(turn), cs.limits, log, onStart);
    }
    return adapter.openStream?.(turn);
  }

  async function handleAction(
    adapter: ConversationAdapter<unknown, unknown>,
    body: unknown,
  ): Promise<Outcome> {
    if (!adapter.toAction) throw new PermanentJobError(`${adapter.platform} adapter takes no button presses`);
    const inbound = await adapter.toAction(body);
    if ("ignored" in inbound) return inbound;
    const reply = await bot.handleAction(inbound.action);
    if (reply && adapter.answerAction) await adapter.answerAction(inbound, reply);
    return { handled: true };
  }

  jobs.register<InboundEnvelope>(
    INBOUND_QUEUE,
    async (job: Job<InboundEnvelope>) => {
      const env = job.payload;
      const adapter = adapters.get(env?.platform);
      if (!adapter) throw new PermanentJobError(`no adapter for platform ${String(env?.platform)}`);
      return withRequestId(env.requestId ?? `job-${job.id}`, async () => {
        const out =
          env.kind === "action"
            ? await handleAction(adapter, env.body)
            : await handleMessage(adapter, env.body);
        if ("ignored" in out)
          log.debug({ key: job.key, reason: out.ignored }, "inbound delivery not answered");
        else log.debug({ platform: env.platform, kind: env.kind }, "inbound delivery answered");
        return out;
      });
    },
    {
      concurrency: opts.concurrency ?? 16,
      backoff: { minMs: 1000, maxMs: 60_000 },
      ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
    },
  );

  return {
    register(adapter) {
      if (adapters.has(adapter.platform)) throw new Error(`${adapter.platform} already has an adapter`);
      adapters.set(adapter.platform, adapter as ConversationAdapter<unknown, unknown>);
    },
    async accept(envelope, identity) {
      // A key pasted in chat is never stored, not even in the job row (security/pasted-keys.ts).
      const { value: body } = redactPastedKeysDeep(envelope.body);
      if (body !== envelope.body) envelope = { ...envelope, body };
      const out = await jobs.enqueue({
        queue: INBOUND_QUEUE,
        tenantId: `${envelope.platform}:${identity.workspace}`,
        key: identity.key,
        payload: { ...envelope, requestId: envelope.requestId ?? currentRequestId() },
        maxAttempts: opts.maxAttempts ?? 5,
      });
      return out.created ? "accepted" : "duplicate";
    },
  };
}
