import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WorkflowScheduler } from "../../src/workflows/scheduler.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { testBackends } from "../helpers/memory.ts";
import { confirmValue, openWorkflowRig, type WorkflowRig } from "./workflow-harness.ts";

const NY = "America/New_York";

describe.each(testBackends())("workflows through the core on $name", (backend) => {
  let shared: WorkflowRig;
  let rig: WorkflowRig;
  beforeAll(async () => {
    shared = await openWorkflowRig({ backend, minIntervalSeconds: 3600, catchUpSeconds: 3600 });
  });
  afterAll(async () => {
    await shared?.close();
  });
  /** The shared rig, emptied, with the clock at `start`. */
  async function fresh(start: Date): Promise<WorkflowRig> {
    await shared.reset(start);
    return shared;
  }

  /** Creates and confirms a workflow from a request; returns its name. */
  async function create(
    r: WorkflowRig,
    text: string,
    extra: { user?: string; tz?: string; thread?: string } = {},
  ) {
    const plan = await r.say({ text, tz: extra.tz ?? NY, user: extra.user, thread: extra.thread });
    const answer = await r.press("workflow:confirm", confirmValue(plan), extra.user);
    expect(answer?.text).toMatch(/^Confirmed — “/);
    return /“([^”]+)”/.exec(answer!.text)![1]!;
  }

  it("plan with Confirm/Cancel; nothing runs before Confirm; then it posts in the originating thread", async () => {
    rig = await fresh(new Date("2026-12-03T13:50:00Z"));
    const plan = await rig.say({
      text: "remind me every weekday at 9am to review the sales dashboard",
      tz: NY,
      thread: "T-origin",
    });
    expect(plan.text).toContain(
      "When: Every weekday at 09:00 (America/New_York). Next: Thu 3 Dec 09:00, Fri 4 Dec 09:00, Mon 7 Dec 09:00",
    );
    expect(plan.text).toContain("1. Post to this thread: “⏰ Reminder: review the sales dashboard”");
    expect(plan.actions.map((a) => [a.id, a.label])).toEqual([
      ["workflow:confirm", "Confirm"],
      ["workflow:cancel", "Cancel"],
    ]);
    // Not confirmed: the due time passes, nothing runs.
    expect(await rig.tickAt("2026-12-03T14:00:30Z")).toBe(0);
    expect(rig.messenger.posts).toEqual([]);

    rig.clock.now = new Date("2026-12-03T14:10:00Z");
    // Someone else cannot confirm another person's plan.
    expect((await rig.press("workflow:confirm", confirmValue(plan), "U-other"))?.text).toMatch(
      /Only the person who asked/,
    );
    const ok = await rig.press("workflow:confirm", confirmValue(plan));
    expect(ok?.text).toBe(
      "Confirmed — “Reminder: review the sales dashboard” is on. Next run: Fri 4 Dec 09:00 (America/New_York). Say “workflows” to see all, “workflow pause Reminder: review the sales dashboard” to stop it.",
    );
    expect((await rig.press("workflow:confirm", confirmValue(plan)))?.text).toBe(
      "This plan was already confirmed.",
    );

    expect(await rig.tickAt("2026-12-04T14:00:05Z")).toBe(1);
    expect(rig.messenger.posts).toEqual([
      {
        target: { platform: "console", tenantId: "default", channelId: "C1", threadId: "T-origin" },
        text: "⏰ Reminder: review the sales dashboard",
      },
    ]);
    const list = await rig.say({ text: "workflows" });
    expect(list.text).toContain(
      "Reminder: review the sales dashboard — Every weekday at 09:00 (America/New_York); next: Mon 7 Dec 09:00; last run: succeeded Fri 4 Dec 09:00; owner: U1; v1",
    );
  });

  it("Cancel schedules nothing", async () => {
    rig = await fresh(new Date("2026-12-03T13:50:00Z"));
    const plan = await rig.say({ text: "every day at 9 remind me to stretch", tz: NY });
    expect((await rig.press("workflow:cancel", confirmValue(plan)))?.text).toBe(
      "Cancelled — nothing was scheduled.",
    );
    expect((await rig.press("workflow:confirm", confirmValue(plan)))?.text).toBe(
      "This plan was already cancelled.",
    );
    expect((await rig.say({ text: "workflows" })).text).toMatch(/no workflows yet/);
  });

  it("two schedulers ticking at the same moment create one run per fire time", async () => {
    rig = await fresh(new Date("2026-12-03T13:50:00Z"));
    await create(rig, "every day at 9 remind me to stretch");
    rig.clock.now = new Date("2026-12-03T14:00:02Z");
    const other = new WorkflowScheduler(
      { db: rig.mem.db, store: rig.workflows.store, jobs: rig.worker.store, logger: createLogger("silent") },
      { catchUpMs: 3_600_000, now: () => rig.clock.now },
    );
    const third = new WorkflowScheduler(
      { db: rig.mem.db, store: rig.workflows.store, jobs: rig.worker.store, logger: createLogger("silent") },
      { catchUpMs: 3_600_000, now: () => rig.clock.now },
    );
    const counts = await Promise.all([rig.workflows.scheduler.tick(), other.tick(), third.tick()]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1);
    const wf = (await rig.workflows.store.list("default"))[0]!;
    expect((await rig.workflows.store.runs(wf.id)).map((r) => r.scheduledFor.toISOString())).toEqual([
      "2026-12-03T14:00:00.000Z",
    ]);
    await rig.worker.drain();
    expect(rig.messenger.posts).toHaveLength(1);
  });

  it("a workflow whose stored schedule cannot be computed is paused and does not block the others", async () => {
    rig = await fresh(new Date("2026-12-03T13:50:00Z"));
    await create(rig, "every day at 9 remind me to stretch, called Good");
    await create(rig, "every day at 9 remind me to breathe, called Broken");
    const broken = (await rig.workflows.store.list("default")).find((w) => w.name === "Broken")!;
    await rig.mem.db.query(
      `UPDATE workflow_versions SET definition = jsonb_set(definition, '{trigger,expr}', '"99 99 * * *"') WHERE workflow_id = $1::bigint`,
      [broken.id],
    );
    expect(await rig.tickAt("2026-12-03T14:00:01Z")).toBe(1);
    expect(rig.messenger.posts.map((p) => p.text)).toEqual(["⏰ Reminder: stretch"]);
    expect((await rig.workflows.store.get(broken.id))?.status).toBe("paused");
  });

  it("missed runs: all replicas down 08:58–09:04 → one late run with a “delayed” note", async () => {
    rig = await fresh(new Date("2026-12-03T13:40:00Z"));
    await create(rig, "every weekday at 9 remind me to review the sales dashboard");
    await rig.tickAt("2026-12-03T13:58:00Z"); // 08:58: nothing due yet
    // Down from 08:58 to 09:04: the first tick is at 09:04.
    expect(await rig.tickAt("2026-12-03T14:04:00Z")).toBe(1);
    expect(rig.messenger.posts.map((p) => p.text)).toEqual([
      "⏰ Reminder: review the sales dashboard\n\n(Delayed: this run was due at Thu 3 Dec 09:00 and starts 4 minutes late because Atom was not running then.)",
    ]);
    const wf = (await rig.workflows.store.list("default"))[0]!;
    const runs = await rig.workflows.store.runs(wf.id);
    expect(runs.map((r) => [r.kind, r.status])).toEqual([["late", "succeeded"]]);
    expect(wf.nextRunAt?.toISOString()).toBe("2026-12-04T14:00:00.000Z");
  });

  it("missed runs outside the catch-up window (or with “skip missed runs”) are recorded and the owner is told", async () => {
    rig = await fresh(new Date("2026-12-03T13:40:00Z"));
    await create(rig, "every weekday at 9 remind me to review the sales dashboard", { user: "U-ana" });
    await create(rig, "every weekday at 9 remind me to water the plants, skip missed runs", { user: "U-bo" });
    // Back at 09:04: the first runs late; the second skips.
    await rig.tickAt("2026-12-03T14:04:00Z");
    const texts = rig.messenger.posts.map(
      (p) => `${p.target.userId ? `DM ${p.target.userId}` : "thread"}: ${p.text}`,
    );
    expect(texts).toHaveLength(2);
    expect(texts).toContain(
      "thread: ⏰ Reminder: review the sales dashboard\n\n(Delayed: this run was due at Thu 3 Dec 09:00 and starts 4 minutes late because Atom was not running then.)",
    );
    expect(texts).toContain(
      "DM U-bo: Workflow “Reminder: water the plants”: Missed at Thu 3 Dec 09:00 while Atom was not running; this workflow skips missed runs.",
    );
    rig.messenger.posts = [];
    // Down from Thu 10:00 until Fri 11:30: Friday's 09:00 is 2.5 hours old, beyond the window.
    await rig.tickAt("2026-12-04T16:30:00Z");
    expect(rig.messenger.posts.map((p) => [p.target.userId, p.text])).toEqual(
      expect.arrayContaining([
        [
          "U-ana",
          "Workflow “Reminder: review the sales dashboard”: Missed at Fri 4 Dec 09:00 while Atom was not running; it was more than 1 hour ago, so it was not run late.",
        ],
        [
          "U-bo",
          "Workflow “Reminder: water the plants”: Missed at Fri 4 Dec 09:00 while Atom was not running; this workflow skips missed runs.",
        ],
      ]),
    );
    expect(rig.messenger.posts.some((p) => p.target.threadId)).toBe(false);
    const why = await rig.say({ text: "workflow why review the sales" });
    expect(why.text).toContain("Missed at Fri 4 Dec 09:00");
  });

  it("condition branches: new documents → the digest; none → “nothing new”; “only if” → no post", async () => {
    rig = await fresh(new Date("2026-12-03T13:00:00Z"));
    const docs = path.join(rig.mem.dir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(
      path.join(docs, "pricing.md"),
      "# Pricing 2027\n\nThe new price list starts in January. Enterprise plans cost more.\n",
    );
    fs.writeFileSync(
      path.join(docs, "travel.md"),
      "# Travel policy\n\nBook trains for trips under four hours. Economy class on flights.\n",
    );
    await create(rig, "every hour post a digest of new documents here", { thread: "T-digest", tz: "UTC" });
    await create(
      rig,
      "every hour post a summary of new documents about pricing here only if there are new documents",
      { thread: "T-only", tz: "UTC" },
    );
    await rig.mem.memory.syncFolder(docs, { tenantId: "default" });
    // The documents arrived at 13:30 on the fake clock.
    await rig.mem.db.query("UPDATE documents SET indexed_at = $1", [new Date("2026-12-03T13:30:00Z")]);
    const h1 = new Date("2026-12-03T14:00:01Z");
    await rig.tickAt(h1);
    const inThread = (t: string) =>
      rig.messenger.posts.filter((p) => p.target.threadId === t).map((p) => p.text);
    const digest = inThread("T-digest");
    expect(digest).toHaveLength(1);
    expect(digest[0]).toMatch(/^New or changed documents — /);
    expect(digest[0]).toContain("• Pricing 2027 — pricing.md");
    expect(digest[0]).toContain("• Travel policy — travel.md");
    const only = inThread("T-only");
    expect(only).toHaveLength(1);
    expect(only[0]).toContain("• Pricing 2027 — pricing.md");
    expect(only[0]).toContain("The new price list starts in January.");
    expect(only[0]).not.toContain("Travel");

    // The next hour: nothing new since the last run.
    await rig.tickAt(new Date(h1.getTime() + 3_600_000));
    expect(inThread("T-digest")).toHaveLength(2);
    expect(inThread("T-digest")[1]).toMatch(/^New or changed documents — .*\nNothing new this time\.$/);
    expect(inThread("T-only")).toHaveLength(1);
    const wf = (await rig.workflows.store.list("default")).find((w) => w.name.startsWith("Digest: pricing"))!;
    const run = (await rig.workflows.store.runs(wf.id))[0]!;
    const logs = await rig.workflows.store.stepLogs(run.id);
    expect(logs.map((l) => [l.path, l.type, l.output])).toEqual([
      ["1", "search", "0 new document(s) matching “pricing”"],
      ["2", "condition", "false → else branch"],
      ["2.else.1", "stop", "stopped: nothing found"],
    ]);
  });

  it("versions: an edit is a new version, history lists them, rollback re-activates one, each run records its version", async () => {
    rig = await fresh(new Date("2026-12-03T13:00:00Z"));
    const name = await create(rig, "every day at 9 remind me to check the inbox, called Inbox");
    expect(name).toBe("Inbox");
    const edit = await rig.say({
      text: "workflow edit Inbox: every day at 10 remind me to check the shared inbox",
      tz: NY,
    });
    expect(edit.text).toContain("Here is the new plan for “Inbox” (it becomes version 2):");
    expect((await rig.press("workflow:confirm", confirmValue(edit)))?.text).toBe(
      "Confirmed — “Inbox” is now version 2. Next run: Thu 3 Dec 10:00 (America/New_York).",
    );
    const history = await rig.say({ text: "workflow history inbox" });
    expect(history.text).toMatch(
      /• v2 \(active\) — .* by U1, edited: Every day at 10:00 \(America\/New_York\)/,
    );
    expect(history.text).toMatch(/• v1 — .* by U1, created: Every day at 09:00 \(America\/New_York\)/);

    await rig.tickAt("2026-12-03T15:00:01Z");
    expect(rig.messenger.posts.at(-1)?.text).toBe("⏰ Reminder: check the shared inbox");
    expect((await rig.say({ text: "workflow rollback Inbox 1" })).text).toBe(
      "“Inbox” runs version 1 again: Every day at 09:00 (America/New_York). Next run: Fri 4 Dec 09:00.",
    );
    await rig.tickAt("2026-12-04T14:00:01Z");
    expect(rig.messenger.posts.at(-1)?.text).toBe("⏰ Reminder: check the inbox");
    const wf = (await rig.workflows.store.list("default"))[0]!;
    const runs = await rig.workflows.store.runs(wf.id);
    expect(runs.map((r) => [r.scheduledFor.toISOString(), r.version])).toEqual([
      ["2026-12-04T14:00:00.000Z", 1],
      ["2026-12-03T15:00:00.000Z", 2],
    ]);
    expect((await rig.say({ text: "workflow rollback Inbox 7" })).text).toBe(
      "“Inbox” has no version 7 (see “workflow history Inbox”).",
    );
  });

  it("a failing step is logged; `workflow why` explains it; permanent errors are not retried, transient ones are", async () => {
    rig = await fresh(new Date("2026-12-03T13:00:00Z"));
    await create(rig, "every day at 9 post a digest of new documents in #sales, called Sales digest");
    rig.messenger.failAlways = new Error("Slack refused the message (channel_not_found)");
    await rig.tickAt("2026-12-03T14:00:01Z");
    const why = await rig.say({ text: "workflow why sales digest" });
    expect(why.text).toContain(
      "The last run of “Sales digest” (Thu 3 Dec 09:00, version 1) failed at step 2.else.1 (Post to #sales:",
    );
    expect(why.text).toContain(
      "Why: Slack says Atom cannot post in that channel (it was deleted, or Atom is not a member).",
    );
    expect(why.text).toContain("It was not retried: this error does not go away by itself.");
    expect(why.text).toMatch(/• 1\. search: 0 new or changed document\(s\) since .* \(\d+ ms\)/);
    expect(why.text).toContain("2.else.1. post: error — Slack refused the message (channel_not_found)");
    const wf = (await rig.workflows.store.list("default"))[0]!;
    const failed = (await rig.workflows.store.runs(wf.id))[0]!;
    expect([failed.status, failed.attempts, failed.permanent]).toEqual(["failed", 1, true]);

    // A transient error: retried with backoff, then the post goes out once.
    rig.messenger.failAlways = undefined;
    rig.messenger.failures = [new Error("HTTP 503 Service Unavailable")];
    await rig.tickAt("2026-12-04T14:00:01Z");
    await waitFor(async () => (await rig.workflows.store.runs(wf.id))[0]?.status === "succeeded", 20_000);
    const ok = (await rig.workflows.store.runs(wf.id))[0]!;
    expect(ok.attempts).toBe(2);
    const logs = await rig.workflows.store.stepLogs(ok.id);
    expect(logs.filter((l) => l.error).map((l) => [l.attempt, l.error])).toEqual([
      [1, "HTTP 503 Service Unavailable"],
    ]);
    expect(rig.messenger.posts.filter((p) => p.target.channelId === "#sales")).toHaveLength(1);
  });

  it("only the owner or a workspace admin may change a workflow", async () => {
    rig = await fresh(new Date("2026-12-03T13:00:00Z"));
    await create(rig, "every day at 9 remind me to stretch, called Stretch", { user: "U-owner" });
    for (const cmd of [
      "workflow pause Stretch",
      "workflow delete Stretch",
      "workflow rename Stretch to Yoga",
      "workflow run Stretch",
      "workflow rollback Stretch 1",
    ]) {
      expect((await rig.say({ text: cmd, user: "U-intruder" })).text, cmd).toBe(
        "Only the owner of “Stretch” or a workspace admin can change it.",
      );
    }
    expect((await rig.say({ text: "workflow pause Stretch", user: "U-admin", admin: true })).text).toBe(
      "Paused “Stretch”. Nothing more runs until “workflow resume Stretch”.",
    );
    // Paused: the due time passes on every replica without a run.
    expect(await rig.tickAt("2026-12-03T14:00:01Z")).toBe(0);
    expect((await rig.say({ text: "workflow resume Stretch", user: "U-owner" })).text).toBe(
      "Resumed “Stretch”. Next run: Fri 4 Dec 09:00 (America/New_York).",
    );
    expect((await rig.say({ text: "workflow rename Stretch to Yoga", user: "U-owner" })).text).toBe(
      "Renamed “Stretch” to “Yoga” (version 2).",
    );
    expect((await rig.say({ text: "workflow delete yoga", user: "U-owner" })).text).toBe(
      "Deleted “Yoga”. Its history is kept for the record.",
    );
    expect((await rig.say({ text: "workflows" })).text).toMatch(/no workflows yet/);
  });

  it("run now and dry run (posts only to the asker); templates are offered and usable by name", async () => {
    rig = await fresh(new Date("2026-12-03T13:00:00Z"));
    const t = await rig.say({ text: "workflow templates" });
    expect(t.text).toContain("daily digest: Every morning, a list of the documents that are new or changed");
    expect(t.text).toContain("keyword watch:");
    expect(t.text).toContain("stand-up reminder:");
    expect(t.text).toContain("weekly questions summary:");
    const plan = await rig.say({ text: "use the stand-up reminder template at 9:45", tz: NY });
    expect(plan.text).toContain("When: Every weekday at 09:45 (America/New_York)");
    await rig.press("workflow:confirm", confirmValue(plan));
    const name = (await rig.workflows.store.list("default"))[0]!.name;
    expect((await rig.say({ text: `workflow run ${name} dry run` })).text).toMatch(/^Dry run of .* started/);
    expect(rig.messenger.posts.at(-1)?.target).toEqual({
      platform: "console",
      tenantId: "default",
      userId: "U1",
    });
    expect(rig.messenger.posts.at(-1)?.text).toMatch(
      /^\[Dry run of “.*” — only you see this\]\n⏰ Reminder: /,
    );
    await rig.say({ text: `workflow run ${name}` });
    expect(rig.messenger.posts.at(-1)?.target.threadId).toBeDefined();
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}
