import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import type { Bot, HandleOptions } from "../../src/bot/types.ts";
import {
  type ConversationAdapter,
  type Conversations,
  createConversations,
  type InboundAction,
  type InboundTurn,
} from "../../src/core/conversation.ts";
import type { ChatAction, ChatMessage, Reply } from "../../src/core/ports.ts";
import { JobWorker, PermanentJobError } from "../../src/core/worker.ts";
import { type Db, migrate } from "../../src/db/index.ts";
import { JobStore } from "../../src/db/jobs.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { testBackends } from "../helpers/memory.ts";

const logger = createLogger("silent");

/** A platform payload of the fake adapter. */
interface FakeBody {
  id: string;
  text: string;
  direct?: boolean;
  mention?: boolean;
  thread?: string;
  ignore?: string;
}

/** A bot that answers "echo: <text>" after `delayMs` and knows which threads it is in. */
class EchoBot implements Partial<Bot> {
  delayMs = 0;
  handled: ChatMessage[] = [];
  threads = new Set<string>();
  actions: ChatAction[] = [];
  async handle(msg: ChatMessage, opts?: HandleOptions): Promise<Reply> {
    this.handled.push(msg);
    if (msg.text.startsWith("voice"))
      await opts?.progress?.(makeReply({ intent: "transcript", text: "> transcript" }));
    await new Promise((r) => setTimeout(r, this.delayMs));
    return makeReply({ intent: "ask", text: `echo: ${msg.text}` });
  }
  async isInThread(ref: { threadId: string }) {
    return this.threads.has(ref.threadId);
  }
  async handleAction(action: ChatAction) {
    this.actions.push(action);
    return makeReply({ intent: "feedback", text: `pressed ${action.actionId}`, visibility: "ephemeral" });
  }
}

/** A fake platform adapter recording what it was asked to post. */
class FakeAdapter implements ConversationAdapter<FakeBody, { id: string }> {
  readonly platform = "console" as const;
  sent: { id: string; text: string }[] = [];
  answered: { id: string; text: string }[] = [];
  working: ConversationAdapter<FakeBody, { id: string }>["working"];
  signals: string[] = [];
  failSends = 0;
  failForGood = false;
  constructor() {
    this.working = async (turn) => {
      this.signals.push(`on:${turn.context.id}`);
      return async () => {
        this.signals.push(`off:${turn.context.id}`);
      };
    };
  }
  async toTurn(body: FakeBody) {
    if (body.ignore) return { ignored: body.ignore };
    if (typeof body.text !== "string") throw new PermanentJobError("payload has no text");
    return {
      message: {
        platform: "console" as const,
        tenantId: "default",
        channelId: "C1",
        threadId: body.thread ?? body.id,
        messageId: body.id,
        userId: "U1",
        text: body.text,
        files: [],
        isDirect: body.direct ?? false,
        mentionsBot: body.mention ?? false,
        visibility: "thread" as const,
      },
      context: { id: body.id },
    };
  }
  async send(turn: InboundTurn<{ id: string }>, reply: Reply) {
    if (this.failForGood) throw new PermanentJobError("channel_not_found");
    if (this.failSends > 0) {
      this.failSends -= 1;
      throw new Error("HTTP 503 from the platform");
    }
    this.sent.push({ id: turn.context.id, text: reply.text });
  }
  async toAction(body: FakeBody) {
    return {
      action: {
        platform: "console" as const,
        tenantId: "default",
        channelId: "C1",
        userId: "U1",
        actionId: body.text,
        value: body.id,
        isDirect: false,
      },
      context: { id: body.id },
    };
  }
  async answerAction(a: InboundAction<{ id: string }>, reply: Reply) {
    this.answered.push({ id: a.context.id, text: reply.text });
  }
}

describe.each(testBackends())("conversation pipeline on $name", (backend) => {
  let db: Db;
  let drop: () => Promise<void> = async () => {};
  let worker: JobWorker;
  let bot: EchoBot;
  let adapter: FakeAdapter;
  let conversations: Conversations;

  beforeAll(async () => {
    ({ db, drop } = await backend.open());
    await migrate(db);
  });
  beforeEach(async () => {
    await db.query("DELETE FROM jobs");
    worker = new JobWorker(new JobStore(db), { logger, pollMs: 50 });
    bot = new EchoBot();
    adapter = new FakeAdapter();
    conversations = createConversations({
      bot: bot as unknown as Bot,
      jobs: worker,
      logger,
      options: { workingSignalAfterMs: 100, loopGuard: { max: 3, windowMs: 60_000 } },
    });
    conversations.register(adapter);
  });
  afterEach(async () => {
    await worker.stop();
  });
  afterAll(async () => {
    await db?.close();
    await drop();
  });

  const deliver = (body: FakeBody, kind: "message" | "action" = "message") =>
    conversations.accept({ platform: "console", kind, body }, { workspace: "W1", key: body.id });

  it("answers a direct message once; a redelivery of the same event stops at the door", async () => {
    worker.start();
    expect(await deliver({ id: "1", text: "hello", direct: true })).toBe("accepted");
    expect(await deliver({ id: "1", text: "hello", direct: true })).toBe("duplicate");
    await worker.drain();
    expect(adapter.sent).toEqual([{ id: "1", text: "echo: hello" }]);
  });

  it("answers what was acked before the process died, once, when a worker starts again", async () => {
    // Acked while no worker runs (the process died right after the ack).
    await deliver({ id: "2", text: "still there?", mention: true });
    expect(adapter.sent).toEqual([]);
    worker.start();
    await worker.drain();
    expect(adapter.sent).toEqual([{ id: "2", text: "echo: still there?" }]);
  });

  it("ignores channel messages that neither mention Atom nor continue a thread it is in", async () => {
    worker.start();
    await deliver({ id: "3", text: "chatter" });
    bot.threads.add("T-known");
    await deliver({ id: "4", text: "follow-up", thread: "T-known" });
    await deliver({ id: "5", text: "edit", ignore: "message_changed" });
    await worker.drain();
    expect(adapter.sent.map((s) => s.id)).toEqual(["4"]);
    const job = await worker.store.get("inbound", "console:W1", "3");
    expect(job?.status).toBe("done");
    expect(job?.result).toEqual({ ignored: "not addressed to Atom" });
  });

  it("posts progress replies (a transcript) before the answer, in order", async () => {
    worker.start();
    await deliver({ id: "6", text: "voice note", direct: true });
    await worker.drain();
    expect(adapter.sent.map((s) => s.text)).toEqual(["> transcript", "echo: voice note"]);
  });

  it("shows the working signal only for slow answers and removes it", async () => {
    worker.start();
    await deliver({ id: "fast", text: "quick", direct: true });
    await worker.drain();
    expect(adapter.signals).toEqual([]);
    bot.delayMs = 300;
    await deliver({ id: "slow", text: "slow", direct: true });
    await worker.drain();
    expect(adapter.signals).toEqual(["on:slow", "off:slow"]);
  });

  it("ends the working signal before the answer goes out", async () => {
    worker.start();
    bot.delayMs = 300;
    const seen: string[] = [];
    const send = adapter.send.bind(adapter);
    adapter.send = async (turn, reply) => {
      seen.push(adapter.signals.join(","));
      return send(turn, reply);
    };
    await deliver({ id: "order", text: "slow", direct: true });
    await worker.drain();
    expect(seen).toEqual(["on:order,off:order"]);
    expect(adapter.sent).toEqual([{ id: "order", text: "echo: slow" }]);
  });

  it("retries a transient send failure and posts the answer once", async () => {
    worker = new JobWorker(new JobStore(db), { logger, pollMs: 50 });
    const c = createConversations({ bot: bot as unknown as Bot, jobs: worker, logger });
    c.register(adapter);
    worker.start();
    adapter.failSends = 1;
    await c.accept(
      { platform: "console", kind: "message", body: { id: "7", text: "retry me", direct: true } },
      { workspace: "W1", key: "7" },
    );
    await waitFor(
      async () => (await worker.store.get("inbound", "console:W1", "7"))?.status === "done",
      15_000,
    );
    expect(adapter.sent).toEqual([{ id: "7", text: "echo: retry me" }]);
    expect((await worker.store.get("inbound", "console:W1", "7"))?.attempts).toBe(2);
  });

  it("moves a permanently refused reply and a malformed payload to the dead-letter state", async () => {
    worker.start();
    adapter.failForGood = true;
    await deliver({ id: "8", text: "gone", direct: true });
    await deliver({ id: "9", text: undefined as unknown as string, direct: true });
    await worker.drain();
    expect((await worker.store.get("inbound", "console:W1", "8"))?.lastError).toBe("channel_not_found");
    expect((await worker.store.get("inbound", "console:W1", "8"))?.status).toBe("dead");
    expect((await worker.store.get("inbound", "console:W1", "9"))?.lastError).toBe("payload has no text");
  });

  it("stops answering a thread after the loop guard's limit", async () => {
    worker.start();
    for (let i = 0; i < 5; i++)
      await deliver({ id: `loop-${i}`, text: `again ${i}`, direct: true, thread: "T-loop" });
    await worker.drain();
    expect(adapter.sent.length).toBe(3);
  });

  it("routes a button press to the bot and answers the presser", async () => {
    worker.start();
    await deliver({ id: "b1", text: "feedback_up" }, "action");
    await worker.drain();
    expect(bot.actions.map((a) => a.actionId)).toEqual(["feedback_up"]);
    expect(adapter.answered).toEqual([{ id: "b1", text: "pressed feedback_up" }]);
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
