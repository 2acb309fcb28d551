import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { listAudit } from "../../src/db/audit.ts";
import { setTenantRetention } from "../../src/db/retention.ts";
import { tenantRowsLeft } from "../../src/db/tenant-purge.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { eq } from "../../src/memory/store.ts";
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
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

/**
 * A workspace's life through `atom serve` and the fake Slack: OAuth install, a note, a workflow
 * created, renamed, rolled back, paused and deleted, then `app_uninstalled`. Every step leaves an
 * audit entry (without secrets), and the uninstall leaves no row of the workspace in any table
 * and no chunk in LanceDB — only the audit log and the uninstall delivery's own job record.
 */
describe("audit trail of a workspace and its purge on uninstall", { timeout: 180_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;
  const tenantId = "slack:TGONE";
  let botUserId = "";

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TMAIN" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-purge-e2e-"));
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_CLIENT_ID: fake.clientId,
        SLACK_CLIENT_SECRET: fake.clientSecret,
        SLACK_API_URL: fake.apiUrl,
        ATOM_WORKFLOW_DEFAULT_TIMEZONE: "UTC",
      }),
      { logger: silentLogger },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const channel = "CGONE001";
  const mention = (text: string, ts = nextTs(), threadTs?: string) =>
    deliverEvent(
      server.url,
      eventCallback({
        teamId: "TGONE",
        botUserId,
        event: appMention({ botUserId, text, channel, ts, threadTs, teamId: "TGONE", user: "UADMIN1" }),
      }),
    );
  const said = async (text: string, expect: RegExp, threadTs?: string) => {
    const before = fake.posted(channel).length;
    await mention(text, nextTs(), threadTs);
    await fake.waitFor(
      () =>
        fake
          .posted(channel)
          .slice(before)
          .some((m) => expect.test(String(m.text))),
      20_000,
      `reply to “${text}”`,
    );
  };

  it("audits install, workflow changes and uninstall; the uninstall purges every table and LanceDB", async () => {
    fake.addOAuthCode("code-gone", { teamId: "TGONE", teamName: "Gone Co", installerUserId: "UADMIN1" });
    const install = await fetch(`${server.url}/slack/install`, { redirect: "manual" });
    const state = new URL(install.headers.get("location") ?? "").searchParams.get("state") ?? "";
    const cookie = (install.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const done = await fetch(
      `${server.url}/slack/oauth_redirect?code=code-gone&state=${encodeURIComponent(state)}`,
      {
        headers: { cookie },
      },
    );
    expect(done.status).toBe(200);
    botUserId =
      (
        await server.atom.db.query<{ bot_user_id: string }>(
          "SELECT bot_user_id FROM slack_installations WHERE tenant_id = $1",
          [tenantId],
        )
      ).rows[0]?.bot_user_id ?? "";

    await said("remember that the boat key is under the blue mat", /remember that/);
    const ts = nextTs();
    await mention("every day at 9:00 post a digest of new documents here", ts);
    await fake.waitFor(
      () => fake.callsOf("chat.postMessage").some((c) => c.params.thread_ts === ts),
      20_000,
      "the plan",
    );
    const plan = fake.callsOf("chat.postMessage").find((c) => c.params.thread_ts === ts)!;
    const blocks = JSON.parse(String(plan.params.blocks)) as {
      elements?: { action_id: string; value: string }[];
    }[];
    const confirm = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === "workflow:confirm")!;
    const press = await deliverSigned(
      `${server.url}/slack/events`,
      blockActionsBody({
        teamId: "TGONE",
        actionId: "workflow:confirm",
        value: confirm.value,
        responseUrl: fake.responseUrl(),
        userId: "UADMIN1",
        channelId: channel,
        messageTs: ts,
      }),
    );
    expect(press.status).toBe(200);
    await server.atom.jobs.drain();
    const [wf] = await server.atom.workflows.store.list(tenantId);
    expect(wf).toBeDefined();
    await said(`workflow rename ${wf!.name} to Morning digest`, /Renamed/);
    await said("workflow rollback Morning digest 1", /runs version 1 again/);
    await said(`workflow pause ${wf!.name}`, /Paused/);
    await said(`workflow delete ${wf!.name}`, /Deleted/);
    await setTenantRetention(server.atom.db, tenantId, { threadDays: 10 });
    await server.atom.db.query(
      "INSERT INTO rate_limit_hits (tenant_id, scope, window_start, hits) VALUES ($1, 'question:workspace', now(), 3)",
      [tenantId],
    );
    expect(await server.atom.memory.store.count(eq("tenant_id", tenantId))).toBeGreaterThan(0);

    await deliverEvent(
      server.url,
      eventCallback({ teamId: "TGONE", event: { type: "app_uninstalled", event_ts: nextTs() } }),
    );
    const until = Date.now() + 20_000;
    while ((await listAudit(server.atom.db, { tenantId, action: "data.purged" })).length === 0) {
      if (Date.now() > until) throw new Error("the purge did not happen");
      await new Promise((r) => setTimeout(r, 50));
    }
    await server.atom.jobs.drain();

    // Nothing of the workspace is left but its audit trail and the uninstall delivery's job record.
    const left = await tenantRowsLeft(server.atom.db, tenantId);
    expect(Object.keys(left).sort()).toEqual(["audit_log", "jobs"]);
    expect(left.jobs).toBe(1);
    const job = await server.atom.db.query<{ queue: string }>("SELECT queue FROM jobs WHERE tenant_id = $1", [
      tenantId,
    ]);
    expect(job.rows[0]?.queue).toBe("slack.lifecycle");
    expect(await server.atom.memory.store.count(eq("tenant_id", tenantId))).toBe(0);
    const versions = await server.atom.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM workflow_versions WHERE workflow_id = $1::bigint",
      [wf!.id],
    );
    expect(versions.rows[0]?.n).toBe(0);

    const trail = (await listAudit(server.atom.db, { tenantId })).reverse();
    expect(trail.map((e) => e.action)).toEqual([
      "install",
      "workflow.created",
      "workflow.renamed",
      "workflow.rolled_back",
      "workflow.paused",
      "workflow.deleted",
      "uninstall",
      "data.purged",
    ]);
    expect(trail[0]).toMatchObject({ actor: "UADMIN1", platform: "slack" });
    expect(trail[1]).toMatchObject({ actor: "UADMIN1", platform: "slack", detail: { version: 1 } });
    expect(trail.at(-1)!.detail.deleted).toMatchObject({ workflows: 1, settings: 1, rate_limit_hits: 1 });

    // The audit log holds no secret: no token, client secret or signing secret.
    const dump = JSON.stringify((await server.atom.db.query("SELECT * FROM audit_log")).rows);
    expect(dump).not.toMatch(/xox[abpre]-/);
    expect(dump).not.toContain(fake.clientSecret);
    expect(dump).not.toContain(TEST_SIGNING_SECRET);
  });
});
