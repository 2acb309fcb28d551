import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import {
  appMention,
  blockActionsBody,
  deliverEvent,
  deliverSigned,
  eventCallback,
  nextTs,
} from "../helpers/slack.ts";
import { TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

/**
 * A workflow end to end through `atom serve` and the fake Slack, with
 * ATOM_WORKFLOW_MIN_INTERVAL_SECONDS=60: plain language → plan with buttons → Confirm (a signed
 * block_actions delivery) → a digest lands in the same thread within 70 s → pause → no more posts.
 */
describe("atom serve + Slack: a workflow from a mention", { timeout: 240_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TWF" });
    fake.addUser({ id: "UOWNER1", teamId: "TWF", email: "owner@example.com" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-wf-e2e-"));
    const docs = path.join(dataDir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(
      path.join(docs, "pricing.md"),
      "# Pricing 2027\n\nThe new price list starts in January.\n",
    );
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        ATOM_DOCS_DIR: docs,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        ATOM_WORKFLOW_MIN_INTERVAL_SECONDS: "60",
        ATOM_WORKFLOW_DEFAULT_TIMEZONE: "UTC",
      }),
      { logger: process.env.WORKFLOW_E2E_DEBUG ? createLogger("debug") : silentLogger },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const channel = "CWF00001";
  const inThread = (ts: string) =>
    fake.callsOf("chat.postMessage").filter((c) => c.params.channel === channel && c.params.thread_ts === ts);
  const mention = (text: string, ts: string, threadTs?: string) =>
    deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        event: appMention({
          botUserId: team.botUserId,
          text,
          channel,
          ts,
          threadTs,
          teamId: team.teamId,
          user: "UOWNER1",
        }),
      }),
    );

  /** Mentions Atom with the request and returns the plan posted in the thread and its buttons. */
  async function askForPlan(ts: string) {
    expect((await mention("every minute post a digest of new documents here", ts)).status).toBe(200);
    await fake.waitFor(() => inThread(ts).length >= 1, 30_000, "the plan");
    const plan = inThread(ts)[0]!;
    const blocks = JSON.parse(String(plan.params.blocks)) as {
      type: string;
      elements?: { action_id: string; value: string; text: { text: string } }[];
    }[];
    const buttons = blocks.filter((b) => b.type === "actions").flatMap((b) => b.elements ?? []);
    return { plan, buttons };
  }

  it("a mention with a request → the plan in the thread, with Confirm / Cancel buttons; nothing runs", async () => {
    const ts = nextTs();
    const { plan, buttons } = await askForPlan(ts);
    expect(String(plan.params.text)).toContain("Here is the plan for “Digest of new documents”");
    expect(String(plan.params.text)).toContain("When: Every minute (UTC). Next: ");
    expect(String(plan.params.text)).toContain("Nothing runs until you press Confirm.");
    expect(buttons.map((b) => [b.action_id, b.text.text])).toEqual([
      ["workflow:confirm", "Confirm"],
      ["workflow:cancel", "Cancel"],
    ]);
    expect(await server.atom.workflows.store.list("default")).toEqual([]);
  });

  it("every minute post a digest of new documents here → plan → Confirm → a post in the thread within 70 s → pause stops it", async () => {
    const ts = nextTs();
    const { plan, buttons } = await askForPlan(ts);

    // Confirm: a signed block_actions delivery, as Slack sends it when the button is pressed.
    const confirmedAt = Date.now();
    const press = await deliverSigned(
      `${server.url}/slack/events`,
      blockActionsBody({
        teamId: team.teamId,
        actionId: "workflow:confirm",
        value: buttons[0]!.value,
        responseUrl: fake.responseUrl(),
        userId: "UOWNER1",
        channelId: channel,
        messageTs: String(plan.params.ts ?? ts),
      }),
    );
    expect(press.status).toBe(200);
    const digests = () =>
      inThread(ts).filter((c) => String(c.params.text).startsWith("New or changed documents"));
    await fake.waitFor(() => digests().length >= 1, 70_000, "the first digest in the thread");
    expect(Date.now() - confirmedAt).toBeLessThanOrEqual(70_000);
    expect(digests()[0]!.token).toBe(team.botToken);

    // Pause from the thread: no further posts, also after the next minute has passed.
    expect((await mention("workflow pause Digest of new documents", nextTs(), ts)).status).toBe(200);
    await fake.waitFor(
      () => inThread(ts).some((c) => String(c.params.text).startsWith("Paused “Digest")),
      30_000,
      "pause",
    );
    const after = digests().length;
    const nextMinute = Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
    await fake.waitFor(() => Date.now() > nextMinute + 5000, 70_000, "the next minute to pass");
    expect(digests()).toHaveLength(after);
  });
});
