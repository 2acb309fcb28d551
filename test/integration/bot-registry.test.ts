import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBot } from "../../src/bot/core.ts";
import { makeReply } from "../../src/bot/reply.ts";
import type { Bot } from "../../src/bot/types.ts";
import type { ChatAction, ChatMessage } from "../../src/core/ports.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { openTestMemory, type TestMemory } from "../helpers/memory.ts";

const message = (text: string): ChatMessage => ({
  platform: "slack",
  tenantId: "T-reg",
  channelId: "D-1",
  threadId: `th-${text}`,
  messageId: `m-${text}`,
  userId: "U-1",
  text,
  files: [],
  isDirect: true,
  mentionsBot: true,
  visibility: "thread",
});

const action = (actionId: string, value: string): ChatAction => ({
  platform: "slack",
  tenantId: "T-reg",
  channelId: "D-1",
  userId: "U-1",
  actionId,
  value,
  isDirect: true,
});

describe("bot command and action registry", () => {
  let t: TestMemory;
  let bot: Bot;
  const seen: string[] = [];

  beforeAll(async () => {
    t = await openTestMemory();
    bot = createBot({ db: t.db, memory: t.memory, logger: createLogger("silent") });
    bot.registerCommand({
      kind: "connect",
      match: (text) => {
        const m = /^connect (drive|onedrive)$/i.exec(text);
        return m ? { kind: "connect", query: "", args: { provider: m[1]!.toLowerCase() } } : undefined;
      },
      handle: async (ctx) => {
        seen.push(`connect:${ctx.intent.args?.provider}`);
        return makeReply({ intent: "connect", text: `link for ${ctx.intent.args?.provider}` });
      },
      help: ["Connect a drive: “connect drive”."],
    });
    bot.registerActionHandler({
      prefix: "wf:",
      handle: async (a) => makeReply({ intent: "workflow", text: `pressed ${a.actionId} ${a.value}` }),
    });
    bot.registerActionHandler({
      prefix: "boom:",
      handle: async () => {
        throw new Error("handler bug");
      },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("routes a registered command before the question rules, with its parsed arguments", async () => {
    const reply = await bot.handle(message("connect  Drive"));
    expect(reply.intent).toBe("connect");
    expect(reply.text).toBe("link for drive");
    expect(seen).toEqual(["connect:drive"]);
    // Text the rule does not match is still a question.
    const other = await bot.handle(message("connect the printer to wifi?"));
    expect(other.intent).toBe("ask");
  });

  it("lists registered commands in help", async () => {
    const help = await bot.handle(message("help"));
    expect(help.text).toContain("Connect a drive: “connect drive”.");
  });

  it("refuses a second command of the same kind and a built-in kind", () => {
    const spec = {
      kind: "connect",
      match: () => undefined,
      handle: async () => makeReply({ intent: "x", text: "" }),
    };
    expect(() => bot.registerCommand(spec)).toThrow(/already registered/);
    expect(() => bot.registerCommand({ ...spec, kind: "status" })).toThrow(/already registered/);
  });

  it("routes a button by its prefix; unknown buttons get no reply; a failing handler gets an apology", async () => {
    expect((await bot.handleAction(action("wf:confirm", "42")))?.text).toBe("pressed wf:confirm 42");
    expect(await bot.handleAction(action("nobody:knows", "1"))).toBeUndefined();
    const failed = await bot.handleAction(action("boom:x", ""));
    expect(failed?.intent).toBe("error");
    expect(failed?.visibility).toBe("ephemeral");
  });

  it("records feedback through the built-in feedback buttons, once per person", async () => {
    await t.db.query(
      `INSERT INTO answers (answer_id, tenant_id, platform, question, answer) VALUES ('a-1', 'T-reg', 'slack', 'q', 'a')`,
    );
    expect((await bot.handleAction(action("feedback_up", "a-1")))?.text).toMatch(/recorded/);
    expect((await bot.handleAction(action("feedback_down", "a-1")))?.text).toMatch(/already rated/);
    const rows = await t.db.query<{ rating: string }>("SELECT rating FROM feedback WHERE answer_id = 'a-1'");
    expect(rows.rows).toEqual([{ rating: "up" }]);
  });
});
