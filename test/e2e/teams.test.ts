/**
 * End to end: `atom serve` (startServer) with the handbook indexed, Teams activities delivered to
 * `POST /api/messages` with the fake Bot Connector as their serviceUrl (emulator mode: no app id,
 * loopback only), answers asserted where the fake received them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import { loadConfig } from "../../src/config.ts";
import { FOLDER_SYNC_QUEUE, type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, silentLogger } from "../../src/observability/logger.ts";
import {
  activityText,
  cardActionInvoke,
  mention,
  postActivity,
  TEST_BOT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "../integration/fakes/botframework.ts";

const HANDBOOK = path.resolve(import.meta.dirname, "../../../shared/corpus/handbook");
const haveCorpus = fs.existsSync(HANDBOOK);
if (!haveCorpus) console.warn(`Teams e2e skipped: the handbook corpus is not at ${HANDBOOK}`);

const logger = () => (process.env.TEAMS_E2E_DEBUG ? createLogger("debug") : silentLogger);

describe.skipIf(!haveCorpus)("atom serve + Teams (fake Bot Connector, handbook indexed)", () => {
  let fake: FakeBotConnector;
  let server: RunningServer;
  let dataDir: string;
  const thread = "19:abc123def@thread.tacv2;messageid=1717000000123";

  const start = (extra: Record<string, string> = {}) =>
    startServer(
      loadConfig({ ATOM_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent", ...extra }),
      { logger: logger() },
    );

  beforeAll(async () => {
    fake = await startFakeBotConnector();
    fake.addMember({
      id: TEST_USER.id,
      name: TEST_USER.name,
      aadObjectId: TEST_USER.aadObjectId,
      email: TEST_USER.email,
    });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-e2e-"));
    server = await start({ ATOM_DOCS_DIR: HANDBOOK });
    await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 120_000 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers the home office budget question in the channel thread, citing the handbook; feedback is stored once", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      text: "<at>Ask Bot</at> what is the home office budget?",
      entities: [mention(TEST_BOT)],
    });
    const started = Date.now();
    const res = await postActivity(server.url, activity);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(15_000);
    await fake.waitFor(() => fake.messages().length >= 1, 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    const reply = messages[0]!;
    expect(reply.kind).toBe("reply");
    expect(reply.path).toBe(`/v3/conversations/${encodeURIComponent(thread)}/activities/${activity.id}`);
    expect(reply.conversationId).toBe(thread);
    expect(reply.activityId).toBe(activity.id);
    expect(activityText(reply.body)).toContain("spending-company-money.md");
    // The typing indicator went first, and nothing went to the bare channel id.
    expect(fake.posted()[0]?.body.type).toBe("typing");
    for (const c of fake.calls)
      expect(c.conversationId === undefined || c.conversationId === thread).toBe(true);

    // 👍 on the card: recorded once in the feedback table, even when the invoke is redelivered.
    const card = (
      reply.body.attachments as Array<{ content: { actions: Array<{ data: Record<string, string> }> } }>
    )[0]!.content;
    const up = card.actions.find((a) => a.data.atomAction === "feedback_up")!;
    expect(up.data.answerId).toBeTruthy();
    const invoke = cardActionInvoke({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      verb: "atom",
      data: up.data,
    });
    expect((await postActivity(server.url, invoke)).status).toBe(200);
    expect((await postActivity(server.url, invoke)).status).toBe(200);
    expect((await postActivity(server.url, { ...invoke, id: `${invoke.id}9` })).status).toBe(200);
    const rows = await server.atom.db.query<{ rating: string; question: string; platform: string }>(
      "SELECT rating, question, platform FROM feedback WHERE answer_id = $1",
      [up.data.answerId],
    );
    expect(rows.rows).toHaveLength(1);
    expect(rows.rows[0]).toMatchObject({ rating: "up", platform: "teams" });
    expect(rows.rows[0]?.question).toContain("home office budget");
  });

  it("answers help in a personal chat, in the chat", async () => {
    fake.reset();
    const activity = teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "help" });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await fake.waitFor(() => fake.messages().length >= 1, 20_000);
    const reply = fake.messages()[0]!;
    const conv = (activity.conversation as { id: string }).id;
    expect(reply.conversationId).toBe(conv);
    expect(reply.activityId).toBe(activity.id);
    expect(activityText(reply.body).toLowerCase()).toContain("status");
    // Personal chat: the asker's e-mail was looked up (TeamsInfo member route).
    expect(fake.calls.some((c) => c.kind === "member" && c.memberId === TEST_USER.id)).toBe(true);
  });

  it("(c) after a restart, a proactive message from the stored reference succeeds on the first try", async () => {
    await server.close();
    // A new process over the same data directory; no inbound message arrives before the send.
    server = await start();
    fake.reset();
    const teams = server.atom.messengers.get("teams");
    expect(teams).toBeDefined();
    const out = await teams!.send(
      { platform: "teams", tenantId: "default", channelId: "19:abc123def@thread.tacv2", threadId: thread },
      makeReply({ intent: "workflow", text: "Reminder: expense reports are due Friday." }),
    );
    expect(out.messageId).not.toBe("");
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]).toMatchObject({ kind: "send", conversationId: thread, status: 200 });
    expect(activityText(fake.calls[0]!.body!)).toContain("expense reports are due Friday");
  }, 60_000);
});
