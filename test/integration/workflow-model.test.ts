import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatMessage } from "../../src/core/ports.ts";
import { JobStore } from "../../src/db/jobs.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { WorkflowStore } from "../../src/workflows/repository.ts";
import { WorkflowScheduler } from "../../src/workflows/scheduler.ts";
import { type WorkflowModel, WorkflowService } from "../../src/workflows/service.ts";
import { openTestMemory, type TestMemory } from "../helpers/memory.ts";

const msg: ChatMessage = {
  platform: "console",
  tenantId: "default",
  channelId: "C1",
  threadId: "T1",
  messageId: "m1",
  userId: "U1",
  userTimeZone: "Europe/Paris",
  text: "",
  files: [],
  isDirect: false,
  mentionsBot: true,
  visibility: "thread",
};

/** A workspace model as the AI module would provide it: it answers with what it was told to. */
class ScriptedModel implements WorkflowModel {
  calls: string[] = [];
  constructor(private readonly answer: () => unknown) {}
  async draft(text: string) {
    this.calls.push(text);
    return this.answer();
  }
}

describe("the model path: requests the grammar cannot read, validated against the same schema", () => {
  let mem: TestMemory;
  const logger = createLogger("silent");
  const now = new Date("2026-12-03T10:00:00Z");
  const service = (model: WorkflowModel) => {
    const store = new WorkflowStore(mem.db);
    const jobs = new JobStore(mem.db);
    const scheduler = new WorkflowScheduler(
      { db: mem.db, store, jobs, logger },
      { catchUpMs: 3_600_000, now: () => now },
    );
    return new WorkflowService({
      db: mem.db,
      store,
      jobs,
      scheduler,
      logger,
      now: () => now,
      settings: { minIntervalSeconds: 3600, defaultTimeZone: "UTC" },
      model,
    });
  };
  beforeAll(async () => {
    mem = await openTestMemory();
  });
  afterAll(async () => {
    await mem?.close();
  });

  const valid = {
    name: "Friday wins",
    trigger: { type: "cron", expr: "0 16 * * 5", tz: "Europe/Paris" },
    steps: [{ type: "post", text: "Share one win of the week!" }],
  };

  it("uses a valid model draft when the grammar cannot read the request", async () => {
    const model = new ScriptedModel(() => valid);
    const reply = await service(model).plan(msg, "each friday around four get folks to brag a little");
    expect(model.calls).toEqual(["each friday around four get folks to brag a little"]);
    expect(reply.intent).toBe("workflow.plan");
    expect(reply.text).toContain("When: Every Friday at 16:00 (Europe/Paris). Next: Fri 4 Dec 16:00");
    expect(reply.text).toContain("1. Post to this thread: “Share one win of the week!”");
    expect(reply.text).toContain("I read this request with the workspace's AI model.");
  });

  it("refuses, with the grammar's reason, a model draft that breaks the schema or the minimum interval", async () => {
    for (const bad of [
      { ...valid, trigger: { type: "cron", expr: "* * * * *", tz: "Europe/Paris" } },
      { ...valid, steps: [{ type: "launch_rockets" }] },
      { ...valid, trigger: { type: "cron", expr: "0 16 * * 5", tz: "Mars/Olympus" } },
      "not even an object",
    ]) {
      const reply = await service(new ScriptedModel(() => bad)).plan(
        msg,
        "each friday around four get folks to brag a little",
      );
      expect(reply.intent).toBe("workflow.refused");
      expect(reply.actions).toEqual([]);
    }
    const failing = new ScriptedModel(() => {
      throw new Error("429 Too Many Requests");
    });
    expect(
      (await service(failing).plan(msg, "each friday around four get folks to brag a little")).intent,
    ).toBe("workflow.refused");
  });

  it("does not ask the model when the grammar understands the request", async () => {
    const model = new ScriptedModel(() => valid);
    const reply = await service(model).plan(msg, "every friday at 4pm remind us to share a win");
    expect(model.calls).toEqual([]);
    expect(reply.text).toContain("When: Every Friday at 16:00 (Europe/Paris)");
  });
});
