import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FOLDER_SYNC_QUEUE, type RunningServer, startServer } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import {
  appMention,
  blockActionsBody,
  deliverEvent,
  deliverSigned,
  eventCallback,
  nextTs,
  TEST_SIGNING_SECRET,
} from "../helpers/slack.ts";
import { sample } from "../helpers/metrics.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

/**
 * `/metrics` through `atom serve` with the fake Slack: every family of the production checklist
 * is exported with bounded labels, and the counters move after a Slack answer, a folder sync and
 * a workflow run.
 */
describe("metrics move after a Slack answer, a sync and a workflow run", { timeout: 120_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;
  let before = "";
  const scrape = async () => (await fetch(`${server.url}/metrics`)).text();

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TMET" });
    fake.addUser({ id: "UMET1", teamId: "TMET", email: "ops@example.com" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-metrics-e2e-"));
    const docs = path.join(dataDir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(
      path.join(docs, "budget.md"),
      "# Home office budget\n\nEvery employee gets a home office budget of 500 euros per year for a desk and a chair.\n",
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
        ATOM_WORKFLOW_DEFAULT_TIMEZONE: "UTC",
      }),
      { logger: silentLogger },
    );
    before = await scrape();
    await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const channel = "CMET0001";
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
          user: "UMET1",
        }),
      }),
    );

  it("a folder sync moves the sync families (kind=folder) and the LanceDB gauges", async () => {
    const text = await scrape();
    expect(sample(text, "atom_sync_documents_total", { kind: "folder", change: "added" })).toBe(1);
    expect(sample(text, "atom_sync_seconds_count", { kind: "folder", outcome: "ok" })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(text, "atom_lancedb_table", { measure: "rows" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "atom_lancedb_table", { measure: "versions" })).toBeGreaterThanOrEqual(1);
    expect(sample(text, "atom_lancedb_table", { measure: "bytes" })).toBeGreaterThan(0);
    expect(
      sample(text, "atom_queue_depth", { queue: FOLDER_SYNC_QUEUE, status: "done" }),
    ).toBeGreaterThanOrEqual(1);
  });

  it("a Slack answer moves webhook, answer-mode and search families", async () => {
    const ts = nextTs();
    expect((await mention("what is the home office budget?", ts)).status).toBe(200);
    await fake.waitFor(() => fake.callsOf("chat.postMessage").length >= 1, 20_000, "the answer");
    await server.atom.jobs.drain();
    const text = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) =>
      sample(text, name, labels) - sample(before, name, labels);
    expect(d("atom_webhook_requests_total", { platform: "slack", status: "200" })).toBe(1);
    expect(d("atom_webhook_ack_seconds_count", { platform: "slack" })).toBe(1);
    expect(d("atom_answers_by_mode_total", { platform: "slack", mode: "extractive" })).toBe(1);
    expect(d("atom_search_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(d("atom_jobs_finished_total", { queue: "inbound", outcome: "done" })).toBeGreaterThanOrEqual(1);
  });

  it("a workflow run moves atom_workflow_runs_total{status=succeeded}", async () => {
    const ts = nextTs();
    expect((await mention("every day at 9:00 post a digest of new documents here", ts)).status).toBe(200);
    const inThread = () => fake.callsOf("chat.postMessage").filter((c) => c.params.thread_ts === ts);
    await fake.waitFor(() => inThread().length >= 1, 30_000, "the plan");
    const blocks = JSON.parse(String(inThread()[0]!.params.blocks)) as {
      type: string;
      elements?: { action_id: string; value: string }[];
    }[];
    const confirm = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === "workflow:confirm");
    const press = await deliverSigned(
      `${server.url}/slack/events`,
      blockActionsBody({
        teamId: team.teamId,
        actionId: "workflow:confirm",
        value: confirm!.value,
        responseUrl: fake.responseUrl(),
        userId: "UMET1",
        channelId: channel,
        messageTs: ts,
      }),
    );
    expect(press.status).toBe(200);
    await server.atom.jobs.drain();
    const [wf] = await server.atom.workflows.store.list("default");
    expect(wf).toBeDefined();
    expect((await mention(`workflow run ${wf!.name}`, nextTs(), ts)).status).toBe(200);
    await fake.waitFor(
      () => inThread().some((c) => String(c.params.text).startsWith("New or changed documents")),
      30_000,
      "the run's post",
    );
    await server.atom.jobs.drain();
    const text = await scrape();
    expect(
      sample(text, "atom_workflow_runs_total", { status: "succeeded" }) -
        sample(before, "atom_workflow_runs_total", { status: "succeeded" }),
    ).toBe(1);
  });

  it("exports every family with bounded labels only (no user, channel or tenant ids)", async () => {
    const text = await scrape();
    for (const family of [
      "atom_webhook_ack_seconds",
      "atom_webhook_requests_total",
      "atom_answers_by_mode_total",
      "atom_search_seconds",
      "atom_sync_documents_total",
      "atom_sync_errors_total",
      "atom_sync_seconds",
      "atom_connections",
      "atom_voice_audio_seconds_total",
      "atom_workflow_runs_total",
      "atom_queue_depth",
      "atom_queue_oldest_job_age_seconds",
      "atom_lancedb_table",
      "process_cpu_user_seconds_total",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    const labelNames = new Set([...text.matchAll(/[{,](\w+)="/g)].map((m) => m[1]));
    for (const forbidden of ["user", "user_id", "tenant", "tenant_id", "channel", "team", "text", "query"]) {
      expect(labelNames.has(forbidden)).toBe(false);
    }
    for (const id of ["UMET1", "TMET", channel, "ops@example.com"]) expect(text).not.toContain(id);
  });
});
