import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { capturedLogs, capturingLogger } from "../helpers/google.ts";
import {
  appMention,
  deliverEvent,
  eventCallback,
  messageEvent,
  nextTs,
  TEST_SIGNING_SECRET,
} from "../helpers/slack.ts";
import { FakeGoogle } from "../integration/fakes/google.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";

const PUBLIC_URL = "https://atom.e2e.example";
const OWNER = { id: "p-owner", type: "user" as const, role: "owner", emailAddress: "ana@example.com" };

/**
 * `atom serve` + fake Slack + fake Google: a person connects Google Drive from a Slack DM, the
 * first sync runs as a job, and answers cite the Google Doc — to the people who may open it.
 */
describe("atom serve: connect Google Drive from Slack and answer from it", () => {
  let slack: FakeSlack;
  let google: FakeGoogle;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;
  const ids: Record<string, string> = {};
  const dmChannel = "DANA0001";

  beforeAll(async () => {
    slack = await FakeSlack.start();
    team = slack.addTeam({ teamId: "TDRIVE" });
    slack.addUser({ id: "UASKER1", teamId: "TDRIVE", email: "ana@example.com" });
    google = await FakeGoogle.start();
    ids.budget = google.addFile({
      name: "Offsite travel budget",
      text: "The travel budget for the autumn offsite is 4200 euros per team, approved by finance.",
      permissions: [OWNER, { id: "p-dom", type: "domain", domain: "example.com", allowFileDiscovery: true }],
    }).id;
    ids.salary = google.addFile({
      name: "Salary bands",
      text: "Salary bands for engineers: level three earns between 70000 and 85000 euros.",
      permissions: [OWNER],
    }).id;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-drive-e2e-"));
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      PORT: "0",
      HOST: "127.0.0.1",
      PUBLIC_URL,
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      GOOGLE_CLIENT_ID: google.clientId,
      GOOGLE_CLIENT_SECRET: google.clientSecret,
      GOOGLE_OAUTH_AUTHORIZE_URL: google.authorizeUrl,
      GOOGLE_OAUTH_TOKEN_URL: google.tokenUrl,
      GOOGLE_DRIVE_API_URL: google.apiUrl,
      ATOM_ORG_DOMAINS: "example.com",
    });
    server = await startServer(config, { logger: capturingLogger() });
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await slack?.close();
    await google?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  });

  const local = (url: string) => url.replace(PUBLIC_URL, server.url);
  const postsTo = (channel: string) =>
    slack.callsOf("chat.postMessage").filter((c) => c.params.channel === channel);
  const textOf = (c: { params: Record<string, unknown> }) =>
    `${String(c.params.text)} ${String(c.params.blocks)}`;
  const say = async (text: string, channel: string, mention: boolean) => {
    const before = postsTo(channel).length;
    const event = mention
      ? appMention({
          botUserId: team.botUserId,
          text: `<@${team.botUserId}> ${text}`,
          channel,
          teamId: team.teamId,
        })
      : messageEvent({ text, channel, channelType: "im", teamId: team.teamId });
    const r = await deliverEvent(
      server.url,
      eventCallback({ teamId: team.teamId, botUserId: team.botUserId, event }),
    );
    expect(r.status).toBe(200);
    await slack.waitFor(() => postsTo(channel).length > before, 30_000, `a reply to “${text}”`);
    return textOf(postsTo(channel).at(-1)!);
  };

  it("DM “connect drive” → link → Google consent → callback → first sync → DM report", async () => {
    const reply = await say("connect drive", dmChannel, false);
    const link = /https:\/\/atom\.e2e\.example\/connect\/google\?link=[A-Za-z0-9._%-]+/.exec(reply)?.[0];
    expect(link, reply).toBeDefined();
    const start = await fetch(local(link!), { redirect: "manual" });
    expect(start.status).toBe(302);
    const cookie = (start.headers.get("set-cookie") ?? "").split(";")[0]!;
    const consent = await fetch(start.headers.get("location")!, { redirect: "manual" });
    expect(consent.status).toBe(302);
    const callback = consent.headers.get("location")!;
    expect(callback.startsWith(`${PUBLIC_URL}/connect/google/callback?`)).toBe(true);
    const done = await fetch(local(callback), { headers: { cookie } });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("you can close this tab");
    // The same link does not work twice.
    expect((await fetch(local(link!), { redirect: "manual" })).status).toBe(400);

    await server.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
    await slack.waitFor(() => postsTo("UASKER1").length > 0, 10_000, "the first-sync DM");
    expect(textOf(postsTo("UASKER1")[0]!)).toContain(
      "Google Drive connected as ana@example.com: 2 documents indexed.",
    );
  });

  it("answers a DM question from the Google Doc, citing its webViewLink", async () => {
    const reply = await say("how much is the travel budget for the autumn offsite?", dmChannel, false);
    expect(reply).toContain("4200 euros");
    expect(reply).toContain(`https://docs.google.com/document/d/${ids.budget}/edit?usp=drivesdk`);
    const salary = await say("what do level three engineers earn in the salary bands?", dmChannel, false);
    expect(salary).toContain(ids.salary);
  });

  it("in a public channel: a document shared only with the asker is not cited, a domain-shared one is", async () => {
    const salary = await say("what do level three engineers earn in the salary bands?", "CPUBLIC77", true);
    expect(salary).not.toContain(ids.salary);
    expect(salary).not.toContain("85000");
    const budget = await say("how much is the travel budget for the autumn offsite?", "CPUBLIC77", true);
    expect(budget).toContain(`https://docs.google.com/document/d/${ids.budget}/edit?usp=drivesdk`);
  });

  it("`sources` lists the connection; no token or client secret in any log line", async () => {
    const reply = await say("sources", dmChannel, false);
    expect(reply).toMatch(/Google Drive — ana@example.com \(yours\): 2 documents/);
    const secrets = [google.clientSecret, ...google.accessTokens.keys(), ...google.refreshTokens.keys()];
    expect(capturedLogs.length).toBeGreaterThan(3);
    for (const line of capturedLogs) for (const s of secrets) expect(line).not.toContain(s);
    void nextTs;
  });
});
