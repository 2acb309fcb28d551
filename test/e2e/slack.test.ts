import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FOLDER_SYNC_QUEUE, type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import {
  appMention,
  blockActionsBody,
  deliverEvent,
  deliverSigned,
  eventCallback,
  messageEvent,
  nextTs,
  slashCommandBody,
  TEST_SIGNING_SECRET,
} from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const HANDBOOK = path.resolve(import.meta.dirname, "../../../shared/corpus/handbook");
const haveCorpus = fs.existsSync(HANDBOOK);
if (!haveCorpus) console.warn(`Slack e2e skipped: the handbook corpus is not at ${HANDBOOK}`);

describe.skipIf(!haveCorpus)("atom serve + Slack (signed deliveries, fake Slack, handbook indexed)", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TE2E" });
    fake.addUser({ id: "UASKER1", teamId: "TE2E", email: "ana@example.com" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-slack-e2e-"));
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      ATOM_DOCS_DIR: HANDBOOK,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_CLIENT_ID: fake.clientId,
      SLACK_CLIENT_SECRET: fake.clientSecret,
      SLACK_API_URL: fake.apiUrl,
    });
    server = await startServer(config, {
      logger: process.env.SLACK_E2E_DEBUG ? createLogger("debug") : silentLogger,
    });
    await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 120_000 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const mention = (text: string, channel: string, ts: string, threadTs?: string) =>
    eventCallback({
      teamId: team.teamId,
      botUserId: team.botUserId,
      event: appMention({ botUserId: team.botUserId, text, channel, ts, threadTs, teamId: team.teamId }),
    });

  it("answers a signed app_mention about the home office budget once, in the thread, citing the handbook", async () => {
    const channel = "CE2E0001";
    const ts = nextTs();
    const r = await deliverEvent(server.url, mention("what is the home office budget?", channel, ts));
    expect(r.status).toBe(200);
    await fake.waitFor(() => fake.callsOf("chat.postMessage").length >= 1, 20_000, "the answer");
    await server.atom.jobs.drain();
    const posts = fake.callsOf("chat.postMessage");
    expect(posts).toHaveLength(1);
    expect(posts[0]?.params.thread_ts).toBe(ts);
    expect(posts[0]?.params.channel).toBe(channel);
    expect(posts[0]?.token).toBe(team.botToken);
    expect(String(posts[0]?.params.blocks)).toContain("spending-company-money.md");

    // 👍 on that answer is stored once, with the question.
    const blocks = JSON.parse(String(posts[0]?.params.blocks)) as {
      elements?: { action_id?: string; value?: string }[];
    }[];
    const answerId =
      blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === "feedback_up")?.value ?? "";
    expect(answerId).not.toBe("");
    const press = () =>
      deliverSigned(
        `${server.url}/slack/events`,
        blockActionsBody({
          teamId: team.teamId,
          actionId: "feedback_up",
          value: answerId,
          responseUrl: fake.responseUrl(),
          channelId: channel,
        }),
      );
    await press();
    await press();
    await fake.waitFor(() => fake.callsOf("response_url").length >= 2, 5000, "feedback notices");
    const rows = await server.atom.db.query<{ question: string; rating: string }>(
      "SELECT question, rating FROM feedback WHERE answer_id = $1",
      [answerId],
    );
    expect(rows.rows).toEqual([{ question: "what is the home office budget?", rating: "up" }]);

    // A follow-up in the same thread, without a mention, is answered in the thread.
    await deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({ text: "and who approves it?", channel, threadTs: ts }),
      }),
    );
    await fake.waitFor(() => fake.callsOf("chat.postMessage").length === 2, 20_000, "follow-up answer");
    expect(fake.callsOf("chat.postMessage")[1]?.params.thread_ts).toBe(ts);
  });

  it("/atom status answers ephemerally at response_url with the Slack status line", async () => {
    const responseUrl = fake.responseUrl();
    const r = await deliverSigned(
      `${server.url}/slack/events`,
      slashCommandBody({ teamId: team.teamId, text: "status", responseUrl, channelId: "CE2E0002" }),
    );
    expect(r.status).toBe(200);
    await fake.waitFor(() => fake.responses(responseUrl).length >= 1, 20_000, "status reply");
    const [reply] = fake.responses(responseUrl);
    expect(reply?.response_type).toBe("ephemeral");
    expect(JSON.stringify(reply)).toMatch(
      /Slack: connected \(single workspace; auth\.test ok at [\d-]+T[\d:]+Z\)/,
    );
  });

  it("(i) an OAuth-installed workspace keeps its own memory, and uninstalling purges it", async () => {
    fake.addOAuthCode("code-e2e", { teamId: "TOTHER", teamName: "Other Co" });
    const install = await fetch(`${server.url}/slack/install`, { redirect: "manual" });
    const state = new URL(install.headers.get("location") ?? "").searchParams.get("state") ?? "";
    const cookie = (install.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const done = await fetch(
      `${server.url}/slack/oauth_redirect?code=code-e2e&state=${encodeURIComponent(state)}`,
      {
        headers: { cookie },
      },
    );
    expect(done.status).toBe(200);
    const tenantId = "slack:TOTHER";
    const inst = await server.atom.db.query<{ bot_user_id: string }>(
      "SELECT bot_user_id FROM slack_installations WHERE tenant_id = $1",
      [tenantId],
    );
    const botUserId = inst.rows[0]?.bot_user_id ?? "";
    const channel = "COTHER01";
    await deliverEvent(
      server.url,
      eventCallback({
        teamId: "TOTHER",
        botUserId,
        event: appMention({
          botUserId,
          text: "remember that the boat key is under the blue mat",
          channel,
          teamId: "TOTHER",
        }),
      }),
    );
    await fake.waitFor(() => fake.posted(channel).length === 1, 20_000, "remember reply");
    const search = () => server.atom.memory.search("boat key blue mat", { tenantId, principals: ["anyone"] });
    expect((await search()).hits.length).toBeGreaterThan(0);
    // The default tenant does not see the other workspace's note.
    const leak = await server.atom.memory.search("boat key blue mat", {
      tenantId: "default",
      principals: ["anyone"],
    });
    expect(leak.hits.map((h) => h.doc.tenantId)).not.toContain(tenantId);

    await deliverEvent(
      server.url,
      eventCallback({ teamId: "TOTHER", event: { type: "app_uninstalled", event_ts: nextTs() } }),
    );
    const count = async (sql: string) =>
      Number((await server.atom.db.query<{ n: number }>(sql, [tenantId])).rows[0]?.n);
    const until = Date.now() + 10_000;
    while ((await count("SELECT count(*)::int AS n FROM slack_installations WHERE tenant_id = $1")) > 0) {
      if (Date.now() > until) throw new Error("installation was not removed");
      await new Promise((res) => setTimeout(res, 50));
    }
    await server.atom.jobs.drain();
    expect((await search()).hits).toHaveLength(0);
    expect(
      await count("SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1 AND queue = 'inbound'"),
    ).toBe(0);
    expect(await count("SELECT count(*)::int AS n FROM documents WHERE tenant_id = $1")).toBe(0);
    // The default workspace still answers from the handbook.
    const before = fake.callsOf("chat.postMessage").length;
    await deliverEvent(server.url, mention("what is the home office budget?", "CE2E0003", nextTs()));
    await fake.waitFor(
      () => fake.callsOf("chat.postMessage").length === before + 1,
      20_000,
      "default tenant answer",
    );
  });
});
