/**
 * A workflow test rig on the real core: createBot + createConversations + the job worker, with a
 * fake conversation adapter (the chat side) and a fake Messenger (proactive posts), on a fresh
 * database and memory, with a fake clock for the scheduler.
 */
import { createBot } from "../../src/bot/core.ts";
import type { Bot } from "../../src/bot/types.ts";
import {
  type ConversationAdapter,
  type Conversations,
  createConversations,
  type InboundTurn,
} from "../../src/core/conversation.ts";
import type { ChatFile, ConversationTarget, Messenger, Reply } from "../../src/core/ports.ts";
import { JobWorker } from "../../src/core/worker.ts";
import type { Db } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import { createLogger } from "../../src/observability/logger.ts";
import type { VoiceNotes } from "../../src/voice/index.ts";
import { createWorkflows, type Workflows } from "../../src/workflows/index.ts";
import { openTestMemory, type TestBackend, type TestMemory } from "../helpers/memory.ts";

/** A message as the fake platform delivers it. */
export interface FakeMessage {
  text: string;
  user?: string;
  admin?: boolean;
  tz?: string;
  channel?: string;
  thread?: string;
  direct?: boolean;
  files?: ChatFile[];
}

/** The fake platform: records replies per message id and button answers. */
class FakeChat
  implements
    ConversationAdapter<FakeMessage & { id: string; action?: string; value?: string }, { id: string }>
{
  readonly platform = "console" as const;
  replies: { id: string; reply: Reply }[] = [];
  answers: { id: string; reply: Reply }[] = [];
  /** Bytes behind `downloadUrl`s (a stored payload keeps the URL; the download is rebuilt here, as real adapters do). */
  readonly files = new Map<string, Buffer>();
  async toTurn(body: FakeMessage & { id: string }) {
    return {
      message: {
        platform: "console" as const,
        tenantId: "default",
        channelId: body.channel ?? "C1",
        threadId: body.thread ?? body.id,
        messageId: body.id,
        userId: body.user ?? "U1",
        userTimeZone: body.tz,
        userIsAdmin: body.admin,
        text: body.text,
        files: (body.files ?? []).map((f) => ({
          ...f,
          download: async () => {
            const bytes = this.files.get(f.downloadUrl ?? "");
            if (!bytes) throw new Error(`no file at ${f.downloadUrl}`);
            return bytes;
          },
        })),
        isDirect: body.direct ?? false,
        mentionsBot: true,
        visibility: "thread" as const,
      },
      context: { id: body.id },
    };
  }
  async send(turn: InboundTurn<{ id: string }>, reply: Reply) {
    this.replies.push({ id: turn.context.id, reply });
  }
  async toAction(body: FakeMessage & { id: string; action?: string; value?: string }) {
    return {
      action: {
        platform: "console" as const,
        tenantId: "default",
        channelId: body.channel ?? "C1",
        threadId: body.thread,
        userId: body.user ?? "U1",
        actionId: body.action ?? "",
        value: body.value ?? "",
        isDirect: false,
      },
      context: { id: body.id },
    };
  }
  async answerAction(a: { context: { id: string } }, reply: Reply) {
    this.answers.push({ id: a.context.id, reply });
  }
}

/** The fake Messenger: records proactive posts; can be told to fail. */
export class FakeMessenger implements Messenger {
  readonly platform = "console" as const;
  posts: { target: ConversationTarget; text: string }[] = [];
  /** Errors thrown by the next sends, in order. */
  failures: Error[] = [];
  /** Fail every send with this error (permanent problems). */
  failAlways: Error | undefined;
  async send(target: ConversationTarget, reply: Reply) {
    if (this.failAlways) throw this.failAlways;
    const f = this.failures.shift();
    if (f) throw f;
    this.posts.push({ target, text: reply.text });
    return { messageId: `M${this.posts.length}` };
  }
}

/** A running rig. */
export interface WorkflowRig {
  mem: TestMemory;
  bot: Bot;
  worker: JobWorker;
  conversations: Conversations;
  chat: FakeChat;
  messenger: FakeMessenger;
  workflows: Workflows;
  clock: { now: Date };
  /** Delivers a message and returns Atom's reply to it. */
  say(msg: FakeMessage): Promise<Reply>;
  /** Presses a button and returns the answer to the presser. */
  press(actionId: string, value: string, user?: string): Promise<Reply | undefined>;
  /** Empties workflows, jobs, turns and memory, and sets the clock (between tests). */
  reset(start: Date): Promise<void>;
  /** Sets the fake clock, runs one scheduler pass and waits for the runs it started. */
  tickAt(iso: string | Date): Promise<number>;
  close(): Promise<void>;
}

let seq = 0;

/** Builds the rig on a backend (PGlite by default). */
export async function openWorkflowRig(
  opts: {
    backend?: TestBackend;
    minIntervalSeconds?: number;
    catchUpSeconds?: number;
    start?: Date;
    /** Voice notes on the rig's database (transcription through a fake Deepgram). */
    voice?: (db: Db) => VoiceNotes;
  } = {},
): Promise<WorkflowRig> {
  const logger = createLogger("silent");
  const mem = await openTestMemory(opts.backend);
  const clock = { now: opts.start ?? new Date() };
  const worker = new JobWorker(new JobStore(mem.db), { logger, pollMs: 50 });
  const bot = createBot({ db: mem.db, memory: mem.memory, logger, voice: opts.voice?.(mem.db) });
  const conversations = createConversations({ bot, jobs: worker, logger });
  const chat = new FakeChat();
  conversations.register(chat);
  const messenger = new FakeMessenger();
  const workflows = createWorkflows({
    db: mem.db,
    bot,
    jobs: worker,
    memory: mem.memory,
    messengers: new Map([["console", messenger]]),
    logger,
    now: () => clock.now,
    settings: {
      minIntervalSeconds: opts.minIntervalSeconds ?? 3600,
      catchUpSeconds: opts.catchUpSeconds ?? 3600,
      defaultTimeZone: "UTC",
    },
  });
  worker.start();
  const drain = () => worker.drain({ timeoutMs: 30_000 });
  return {
    mem,
    bot,
    worker,
    conversations,
    chat,
    messenger,
    workflows,
    clock,
    async say(msg) {
      const id = `m${++seq}`;
      await conversations.accept(
        { platform: "console", kind: "message", body: { ...msg, id } },
        { workspace: "W", key: id },
      );
      await drain();
      const r = chat.replies.filter((x) => x.id === id).at(-1);
      if (!r) throw new Error(`no reply to “${msg.text}”`);
      return r.reply;
    },
    async press(actionId, value, user) {
      const id = `a${++seq}`;
      await conversations.accept(
        { platform: "console", kind: "action", body: { id, text: "", action: actionId, value, user } },
        { workspace: "W", key: id },
      );
      await drain();
      return chat.answers.find((x) => x.id === id)?.reply;
    },
    async reset(start) {
      await worker.drain({ timeoutMs: 30_000 });
      for (const t of ["workflow_drafts", "workflows", "jobs", "thread_turns"])
        await mem.db.query(`DELETE FROM ${t}`);
      await mem.memory.purgeTenant("default");
      messenger.posts = [];
      messenger.failures = [];
      messenger.failAlways = undefined;
      chat.replies = [];
      chat.answers = [];
      clock.now = start;
    },
    async tickAt(at) {
      clock.now = typeof at === "string" ? new Date(at) : at;
      const n = await workflows.scheduler.tick();
      await drain();
      return n;
    },
    async close() {
      await workflows.stop();
      await worker.stop();
      await mem.close();
    },
  };
}

/** The draft id carried by a plan's Confirm button. */
export function confirmValue(reply: Reply): string {
  const a = reply.actions.find((x) => x.id === "workflow:confirm");
  if (!a) throw new Error(`no Confirm button in: ${reply.text}`);
  return a.value;
}
