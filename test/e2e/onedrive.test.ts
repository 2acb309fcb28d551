import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { capturedLogs, capturingLogger } from "../helpers/google.ts";
import {
  GRAPH_APP,
  followSignIn,
  type MicrosoftFakes,
  perm,
  startMicrosoftFakes,
} from "../helpers/onedrive.ts";
import { deliverEvent, eventCallback, messageEvent, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { activityText, postActivity, TEST_USER, teamsMessage } from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "../integration/fakes/botframework.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const PUBLIC_URL = "https://atom.e2e.example";

/**
 * `atom serve` + fake Teams Bot Connector + fake Slack + fake Microsoft identity platform and Graph:
 * a Teams user connects OneDrive from the personal chat, the first delta sync runs as a job, the
 * answer in Teams cites the item's webUrl — and so does the answer to a Slack user with the same
 * e-mail.
 */
describe("atom serve: connect OneDrive from Teams, answer in Teams and Slack", () => {
  let ms: MicrosoftFakes;
  let teams: FakeBotConnector;
  let slack: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;
  let webUrl: string;

  beforeAll(async () => {
    ms = await startMicrosoftFakes({
      oid: TEST_USER.aadObjectId,
      upn: TEST_USER.email,
      name: TEST_USER.name,
    });
    const item = ms.graph.put(ms.drive, {
      name: "Quarterly plan.txt",
      text: "The quarterly plan: the lighthouse project gets two more engineers in April.",
      permissions: [perm.owner(TEST_USER.email)],
    });
    webUrl = item.webUrl;
    teams = await startFakeBotConnector();
    teams.addMember({
      id: TEST_USER.id,
      name: TEST_USER.name,
      aadObjectId: TEST_USER.aadObjectId,
      email: TEST_USER.email,
    });
    slack = await FakeSlack.start();
    team = slack.addTeam({ teamId: "TONEDRIVE" });
    slack.addUser({ id: "UDANA01", teamId: "TONEDRIVE", email: TEST_USER.email });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-onedrive-e2e-"));
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        PUBLIC_URL,
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        MICROSOFT_GRAPH_CLIENT_ID: GRAPH_APP.clientId,
        MICROSOFT_GRAPH_CLIENT_SECRET: GRAPH_APP.clientSecret,
        MICROSOFT_LOGIN_URL: ms.login.url,
        MICROSOFT_GRAPH_API_URL: ms.graph.url,
      }),
      { logger: capturingLogger(), microsoft: { ca: ms.login.ca } },
    );
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await slack?.close();
    await teams?.close();
    await ms?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  });

  const askTeams = async (text: string) => {
    const before = teams.messages().length;
    const res = await postActivity(
      server.url,
      teamsMessage({ serviceUrl: teams.url, kind: "personal", text }),
    );
    expect(res.status).toBe(200);
    await server.atom.jobs.drain();
    const out = teams.messages().slice(before);
    expect(out.length, `a reply to “${text}”`).toBeGreaterThan(0);
    return out.map((m) => activityText(m.body)).join("\n");
  };

  it("Teams personal chat: connect onedrive → link → Microsoft sign-in → callback → first sync → report", async () => {
    const reply = await askTeams("connect onedrive");
    const link = /https:\/\/atom\.e2e\.example\/connect\/microsoft\?link=[A-Za-z0-9._%-]+/.exec(reply)?.[0];
    expect(link, reply).toBeDefined();
    const page = await followSignIn(link!, ms, (p, init) =>
      fetch(`${server.url}${p}`, { ...init, redirect: "manual" }),
    );
    expect(page.status, page.html).toBe(200);
    expect(page.html).toContain("you can close this tab");
    // The link works once.
    expect(
      (await fetch(`${server.url}${new URL(link!).pathname}${new URL(link!).search}`, { redirect: "manual" }))
        .status,
    ).toBe(400);
    const before = teams.messages().length;
    await server.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
    await server.atom.jobs.drain();
    const report = teams
      .messages()
      .slice(before)
      .map((m) => activityText(m.body))
      .join("\n");
    expect(report).toContain(`OneDrive connected as ${TEST_USER.email}: 1 document indexed.`);
  });

  it("answers in the Teams personal chat citing the OneDrive webUrl", async () => {
    const reply = await askTeams("how many engineers does the lighthouse project get?");
    expect(reply).toContain("two more engineers");
    expect(reply).toContain(webUrl);
  });

  it("answers a Slack user with the same e-mail, citing the OneDrive webUrl", async () => {
    const postsTo = (channel: string) =>
      slack.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
    const channel = "DDANA001";
    const r = await deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        event: messageEvent({
          text: "how many engineers does the lighthouse project get?",
          channel,
          channelType: "im",
          teamId: team.teamId,
          user: "UDANA01",
        }),
      }),
    );
    expect(r.status).toBe(200);
    await slack.waitFor(() => postsTo(channel).length > 0, 30_000, "the Slack answer");
    const text = postsTo(channel)
      .map((c) => `${String(c.params.text)} ${String(c.params.blocks)}`)
      .join("\n");
    expect(text).toContain("two more engineers");
    expect(text).toContain(webUrl);
  });

  it("no token or client secret in any log line", () => {
    const secrets = [GRAPH_APP.clientSecret, ...ms.login.delegatedTokens()];
    for (const line of capturedLogs) for (const s of secrets) expect(line).not.toContain(s);
  });
});
