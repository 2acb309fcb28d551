/**
 * `GET /slack/install` when Slack OAuth installs are not configured: a small page naming the
 * settings that turn them on (still 404), both with Slack off entirely (`atom serve`) and with a
 * single-workspace Slack token (real Bolt against the fake Slack).
 */
import fs from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startServer } from "../../src/main.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { tempDir } from "../helpers/memory.ts";
import { FakeSlack } from "./fakes/slack.ts";
import { startSlackHarness } from "./slack-harness.ts";

/** Checks the "not configured" page at `base`/slack/install and /slack/oauth_redirect. */
async function expectInstallOffPage(base: string): Promise<void> {
  for (const path of ["/slack/install", "/slack/oauth_redirect?code=x&state=y"]) {
    const r = await fetch(`${base}${path}`, { redirect: "manual" });
    expect(r.status, path).toBe(404);
    expect(r.headers.get("content-type"), path).toMatch(/^text\/html/);
    const body = await r.text();
    expect(body).toContain("Slack installs are not configured");
    for (const setting of ["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET", "PUBLIC_URL"])
      expect(body, setting).toContain(setting);
  }
}

describe("/slack/install without Slack OAuth", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it("Slack off entirely: atom serve answers the page naming the settings, 404", async () => {
    const dataDir = tempDir("atom-install-off-");
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const server = await startServer(
      loadConfig({ ATOM_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" }),
      { logger: createLogger("silent") },
    );
    cleanup.push(() => server.close());
    await expectInstallOffPage(server.url);
    // Other unknown paths keep the JSON 404.
    const other = await fetch(`${server.url}/slack/nothing-here`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: "not found" });
  }, 60_000);

  it("single-workspace token only: the same page, 404", async () => {
    const fake = await FakeSlack.start();
    cleanup.push(() => fake.close());
    const team = fake.addTeam({ teamId: "T0NOOAUTH" });
    const h = await startSlackHarness(fake, { SLACK_BOT_TOKEN: team.botToken });
    cleanup.push(() => h.close());
    await expectInstallOffPage(h.url);
  }, 60_000);
});
