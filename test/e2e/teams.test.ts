/**
 * End to end: `atom serve` (startServer) with the handbook indexed, Teams activities delivered to
 * `POST /api/messages` with the fake Bot Connector as their serviceUrl — first in emulator mode (no
 * app id, loopback only), then with an app id (JWT-signed activities from an allowed and a foreign
 * organisation, replies with a token from the fake identity platform) — answers asserted where the
 * fake received them. Tests wait on the job worker's drain signal.
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
  fileAttachment,
  mention,
  postActivity,
  TEST_BOT,
  TEST_TEAMS_TENANT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import { REFUSAL_TEXT } from "../../src/adapters/teams/index.ts";
import {
  type FakeBotConnector,
  startFakeBotConnector,
  startFakeBotFrameworkAuth,
} from "../integration/fakes/botframework.ts";
import { startFakeMicrosoftLogin } from "../integration/fakes/microsoft-login.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

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
    await server.atom.jobs.drain();
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    const reply = messages[0]!;
    expect(reply.kind).toBe("reply");
    expect(reply.path).toBe(`/v3/conversations/${encodeURIComponent(thread)}/activities/${activity.id}`);
    expect(reply.conversationId).toBe(thread);
    expect(reply.activityId).toBe(activity.id);
    expect(activityText(reply.body)).toContain("spending-company-money.md");
    // Typing indicators (for a slow answer) and the answer all went into the thread, before the
    // answer; nothing went to the bare channel id.
    expect(fake.posted().at(-1)?.body.type).toBe("message");
    for (const c of fake.posted().slice(0, -1)) expect(c.body.type).toBe("typing");
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
    await server.atom.jobs.drain();
    expect(fake.messages()).toHaveLength(1);
    const reply = fake.messages()[0]!;
    const conv = (activity.conversation as { id: string }).id;
    expect(reply.conversationId).toBe(conv);
    expect(reply.activityId).toBe(activity.id);
    expect(activityText(reply.body).toLowerCase()).toContain("status");
    // Personal chat: the asker's e-mail was looked up (TeamsInfo member route).
    expect(fake.calls.some((c) => c.kind === "member" && c.memberId === TEST_USER.id)).toBe(true);
  });

  it('strips the bot\'s mention when the entity has no text, so "<at>…</at> help" is help', async () => {
    fake.reset();
    const entity = { type: "mention", mentioned: { id: TEST_BOT.id, name: "Chat SDK Demo" } };
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      text: "<at>Chat SDK Demo</at> help",
      entities: [entity],
    });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain();
    expect(fake.messages()).toHaveLength(1);
    expect(activityText(fake.messages()[0]!.body)).toContain("Here is what I can do");
  });

  it("answers a file sent without text in a personal chat with what Atom reads, not the help card", async () => {
    fake.reset();
    const docUrl = fake.addFile(
      "Plan.docx",
      Buffer.from("PK\u0003\u0004 a document"),
      "application/octet-stream",
    );
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "personal",
      text: "",
      attachments: [fileAttachment("Plan.docx", docUrl, "docx")],
    });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain();
    expect(fake.messages()).toHaveLength(1);
    const text = activityText(fake.messages()[0]!.body);
    expect(text).toContain("except voice notes");
    expect(text).toMatch(/connected sources/);
    expect(text).not.toContain("Here is what I can do");
    // The document itself was never fetched.
    expect(fake.calls.filter((c) => c.kind === "file")).toHaveLength(0);
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

  it("with an app id: its own organisation gets the handbook answer, another organisation a refusal and no document text", async () => {
    const issuer = await startFakeBotFrameworkAuth();
    const login = await startFakeMicrosoftLogin();
    const appId = "33333333-2222-3333-4444-555555555555";
    login.addClient({
      clientId: appId,
      clientSecret: TEST_SECRETS.teamsAppPassword,
      tenants: [TEST_TEAMS_TENANT],
    });
    const secured = await startFakeBotConnector({ login, appId });
    secured.addMember({ id: TEST_USER.id, name: TEST_USER.name, email: TEST_USER.email });
    try {
      await server.close();
      server = await startServer(
        loadConfig({
          ATOM_DATA_DIR: dataDir,
          PORT: "0",
          HOST: "127.0.0.1",
          LOG_LEVEL: "silent",
          MICROSOFT_APP_ID: appId,
          MICROSOFT_APP_PASSWORD: TEST_SECRETS.teamsAppPassword,
          MICROSOFT_APP_TENANT_ID: TEST_TEAMS_TENANT,
        }),
        {
          logger: logger(),
          teamsEndpoints: {
            openIdMetadataUrl: issuer.openIdMetadataUrl,
            loginUrl: login.url,
            loginCa: login.ca,
          },
        },
      );
      const token = `Bearer ${issuer.token({ appId, serviceUrl: secured.url })}`;
      const question = "what is the home office budget?";
      const own = teamsMessage({ serviceUrl: secured.url, kind: "personal", text: question });
      const foreign = teamsMessage({
        serviceUrl: secured.url,
        kind: "personal",
        text: question,
        teamsTenantId: "44444444-0000-4000-8000-0000000000cc",
        conversationId: "a:1-foreign-chat",
      });
      expect((await postActivity(server.url, own, token)).status).toBe(200);
      expect((await postActivity(server.url, foreign, token)).status).toBe(200);
      await server.atom.jobs.drain();
      const toOwn = secured
        .messages()
        .filter((c) => c.conversationId === (own.conversation as { id: string }).id);
      const toForeign = secured.messages().filter((c) => c.conversationId === "a:1-foreign-chat");
      expect(toOwn).toHaveLength(1);
      expect(activityText(toOwn[0]!.body)).toContain("spending-company-money.md");
      expect(toForeign).toHaveLength(1);
      expect(activityText(toForeign[0]!.body)).toBe(REFUSAL_TEXT);
      expect(JSON.stringify(toForeign[0]!.body)).not.toMatch(/spending|budget|\$/i);
      // Every connector call carried the token Atom got from the identity platform.
      expect(secured.calls.every((c) => c.auth === "bearer")).toBe(true);
      expect(login.issued().length).toBeGreaterThanOrEqual(1);
      // Nothing of the foreign organisation was stored: no reference, no thread turn.
      const refs = await server.atom.db.query(
        "SELECT 1 FROM teams_conversations WHERE conversation_id = $1",
        ["a:1-foreign-chat"],
      );
      expect(refs.rows).toHaveLength(0);
      const turns = await server.atom.db.query("SELECT 1 FROM thread_turns WHERE thread_id = $1", [
        "a:1-foreign-chat",
      ]);
      expect(turns.rows).toHaveLength(0);
      // /readyz shows the token check (a real token request).
      const ready = (await (await fetch(`${server.url}/readyz`)).json()) as {
        checks: Array<Record<string, unknown>>;
      };
      expect(ready.checks.find((c) => c.name === "teams")).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^Bot Framework token acquired at /),
      });
    } finally {
      await secured.close();
      await login.close();
      await issuer.close();
    }
  }, 120_000);
});
