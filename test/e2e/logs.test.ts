import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { createLogger, scrubSecrets } from "../../src/observability/logger.ts";
import { appMention, deliverEvent, eventCallback, nextTs, TEST_SIGNING_SECRET } from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

/**
 * Production logs: every line Atom writes during a run (debug level: OAuth install, a Slack answer,
 * hostile log calls) is captured and grepped for secrets; the request id of a webhook appears on
 * the lines of the worker that answers it.
 */
describe("logs: request id from webhook to reply, no secrets in the output", { timeout: 120_000 }, () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let server: RunningServer;
  let dataDir: string;
  const lines: string[] = [];
  const SECRETS = {
    signedLink: "lnk_9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    cookie: "sess_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    openai: TEST_SECRETS.openaiKey,
    bearer: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhdG9tLXRlc3QifQ.c2lnbmF0dXJlLXRlc3QtdmFsdWU",
    master: TEST_SECRETS.masterKey,
  };

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TLOG" });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-logs-e2e-"));
    const docs = path.join(dataDir, "docs");
    fs.mkdirSync(docs);
    fs.writeFileSync(
      path.join(docs, "travel.md"),
      "# Travel\n\nTrain tickets are booked through the office.\n",
    );
    const logger = createLogger("debug", "atom", { write: (s: string) => void lines.push(s) });
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        ATOM_DOCS_DIR: docs,
        ATOM_MASTER_KEY: SECRETS.master,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "debug",
        SLACK_BOT_TOKEN: team.botToken,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_CLIENT_ID: fake.clientId,
        SLACK_CLIENT_SECRET: fake.clientSecret,
        SLACK_API_URL: fake.apiUrl,
      }),
      { logger },
    );
    await server.atom.jobs.drain();
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("the answer's worker logs under the webhook's X-Request-Id, which the ack echoes", async () => {
    const ts = nextTs();
    const r = await deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        event: appMention({
          botUserId: team.botUserId,
          text: "how are train tickets booked?",
          channel: "CLOG1",
          ts,
          teamId: team.teamId,
        }),
      }),
      { headers: { "x-request-id": "req-e2e-42" } },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get("x-request-id")).toBe("req-e2e-42");
    await fake.waitFor(() => fake.callsOf("chat.postMessage").length >= 1, 20_000, "the answer");
    await server.atom.jobs.drain();
    const tagged = lines
      .map((l) => JSON.parse(l) as { reqId?: string; msg: string })
      .filter((l) => l.reqId === "req-e2e-42");
    expect(tagged.map((l) => l.msg)).toContain("inbound delivery answered");
    // A request without one gets a fresh id.
    const health = await fetch(`${server.url}/healthz`);
    expect(health.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("an OAuth install and hostile log calls leave no token, key, Authorization, cookie or signed link in the output", async () => {
    fake.addOAuthCode("code-logs", { teamId: "TLOG2" });
    const install = await fetch(`${server.url}/slack/install`, { redirect: "manual" });
    const state = new URL(install.headers.get("location") ?? "").searchParams.get("state") ?? "";
    const cookie = (install.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    expect(
      (
        await fetch(`${server.url}/slack/oauth_redirect?code=code-logs&state=${encodeURIComponent(state)}`, {
          headers: { cookie },
        })
      ).status,
    ).toBe(200);
    const log = server.atom.logger;
    log.info(
      {
        headers: { authorization: `Bearer ${SECRETS.bearer}`, cookie: `atom_admin=${SECRETS.cookie}` },
        url: `https://atom.example.com/admin/login?link=${SECRETS.signedLink}`,
        config: { apiKey: SECRETS.openai, masterKey: SECRETS.master },
      },
      "request dump",
    );
    log.warn(`calling with Authorization: Bearer ${SECRETS.bearer} and key ${SECRETS.openai}`);
    log.error(
      { err: new Error(`refused token ${team.botToken} at /dashboard?link=${SECRETS.signedLink}`) },
      "failed",
    );
    log.info({ req: { headers: { "set-cookie": `atom_admin=${SECRETS.cookie}; HttpOnly` } } }, "response");

    const output = lines.join("");
    expect(output.length).toBeGreaterThan(1000);
    for (const secret of [
      ...Object.values(SECRETS),
      team.botToken,
      fake.clientSecret,
      TEST_SIGNING_SECRET,
      "code-logs",
    ]) {
      expect(output, `secret ${secret.slice(0, 6)}… in the log`).not.toContain(secret);
    }
    expect(output).not.toMatch(/xox[abposr]-[0-9A-Za-z]/);
    expect(output).toContain("request dump");
  });

  it("scrubSecrets keeps the parameter name and drops the value", () => {
    expect(scrubSecrets("GET /connect/google?link=abc.def&x=1")).toBe(
      "GET /connect/google?link=[redacted]&x=1",
    );
    expect(scrubSecrets('{"cookie":"a=b; c=d"}')).not.toContain("a=b");
  });
});
