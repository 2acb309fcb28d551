/**
 * Teams uninstall purge, end to end: `atom serve` with a Teams app id, JWT-signed activities from
 * the fake Bot Framework issuer, replies through the real botbuilder to the fake Bot Connector.
 * An organisation of its own (`ATOM_TEAMS_OTHER_TENANTS=separate`) installs Atom in a team and in a
 * personal chat and leaves notes; removing the bot from the team purges nothing; an app upgrade
 * (`remove-upgrade`) purges nothing; uninstalling it from the last conversation purges every row of
 * the organisation (but the audit log and the purge job's record) and its memory. The default
 * tenant is never purged by a Teams removal.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { listAudit } from "../../src/db/audit.ts";
import { tenantRowsLeft } from "../../src/db/tenant-purge.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { eq } from "../../src/memory/store.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";
import {
  activityText,
  installationUpdate,
  postActivity,
  TEST_BOT,
  TEST_TEAMS_TENANT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import {
  type FakeBotConnector,
  type FakeBotFrameworkAuth,
  startFakeBotConnector,
  startFakeBotFrameworkAuth,
} from "../integration/fakes/botframework.ts";
import { type FakeMicrosoftLogin, startFakeMicrosoftLogin } from "../integration/fakes/microsoft-login.ts";

const OTHER_ORG = "44444444-0000-4000-8000-0000000000cc";
const OTHER_TENANT = `teams:${OTHER_ORG}`;
const APP_ID = "33333333-2222-3333-4444-555555555555";

describe("Teams: uninstall from an organisation's last conversation purges it", { timeout: 180_000 }, () => {
  let issuer: FakeBotFrameworkAuth;
  let login: FakeMicrosoftLogin;
  let fake: FakeBotConnector;
  let server: RunningServer;
  let dataDir: string;
  let token: string;
  const team = "19:other-org-team@thread.tacv2";
  const personal = "a:1-other-org-personal";

  beforeAll(async () => {
    issuer = await startFakeBotFrameworkAuth();
    login = await startFakeMicrosoftLogin();
    login.addClient({
      clientId: APP_ID,
      clientSecret: TEST_SECRETS.teamsAppPassword,
      tenants: [TEST_TEAMS_TENANT],
    });
    fake = await startFakeBotConnector({ login, appId: APP_ID });
    fake.addMember({ id: TEST_USER.id, name: TEST_USER.name, email: TEST_USER.email });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-uninstall-"));
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_PASSWORD: TEST_SECRETS.teamsAppPassword,
        MICROSOFT_APP_TENANT_ID: TEST_TEAMS_TENANT,
        ATOM_TEAMS_OTHER_TENANTS: "separate",
      }),
      {
        logger: silentLogger,
        teamsEndpoints: {
          openIdMetadataUrl: issuer.openIdMetadataUrl,
          loginUrl: login.url,
          loginCa: login.ca,
        },
      },
    );
    token = `Bearer ${issuer.token({ appId: APP_ID, serviceUrl: fake.url })}`;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await login?.close();
    await issuer?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Posts a signed activity and waits until the worker handled it. */
  const deliver = async (activity: Record<string, unknown>) => {
    const r = await postActivity(server.url, activity, token);
    expect(r.status).toBe(200);
    await server.atom.jobs.drain();
  };
  const added = (kind: "channel" | "personal", conversationId: string, teamsTenantId = OTHER_ORG) => ({
    ...teamsMessage({ serviceUrl: fake.url, kind, conversationId, teamsTenantId }),
    type: "conversationUpdate",
    text: undefined,
    membersAdded: [{ id: TEST_BOT.id }],
  });
  const removedFromTeam = (conversationId: string) => ({
    ...teamsMessage({ serviceUrl: fake.url, kind: "channel", conversationId, teamsTenantId: OTHER_ORG }),
    type: "conversationUpdate",
    text: undefined,
    membersRemoved: [{ id: TEST_BOT.id }],
  });
  const uninstalled = (conversationId: string, action: string, teamsTenantId = OTHER_ORG) => ({
    ...installationUpdate({
      serviceUrl: fake.url,
      kind: "personal",
      conversationId,
      teamsTenantId,
      action: "remove",
    }),
    action,
  });
  const chunks = (tenantId: string) => server.atom.memory.store.count(eq("tenant_id", tenantId));

  it("keeps the data while another conversation has the bot, ignores an upgrade, purges after the last removal", async () => {
    // The other organisation installs Atom in a team and in a personal chat, and leaves a note.
    await deliver(added("channel", team));
    await deliver(uninstalled(personal, "add"));
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "personal",
        conversationId: personal,
        teamsTenantId: OTHER_ORG,
        text: "remember that the spare badge is in the top drawer",
      }),
    );
    expect(activityText(fake.messages().at(-1)?.body)).toMatch(/remember|noted|saved/i);
    expect(await chunks(OTHER_TENANT)).toBeGreaterThan(0);
    // The default tenant (the bot's own organisation) has a note too.
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "personal",
        text: "remember that the boat key is under the mat",
      }),
    );
    expect(await chunks("default")).toBeGreaterThan(0);

    // 1. Removed from the team: that conversation is inactive, nothing is purged.
    await deliver(removedFromTeam(team));
    expect(
      (
        await server.atom.db.query(
          "SELECT active FROM teams_conversations WHERE tenant_id = $1 AND channel_id = $2",
          [OTHER_TENANT, team],
        )
      ).rows,
    ).toEqual([{ active: false }]);
    expect(await chunks(OTHER_TENANT)).toBeGreaterThan(0);
    expect(await listAudit(server.atom.db, { tenantId: OTHER_TENANT, action: "data.purged" })).toEqual([]);

    // 2. An app upgrade in the personal chat (remove-upgrade): not an uninstall.
    await deliver(uninstalled(personal, "remove-upgrade"));
    expect(await activeOf(personal)).toBe(true);
    expect(await chunks(OTHER_TENANT)).toBeGreaterThan(0);

    // 3. Uninstalled from the personal chat, its last conversation: everything of it goes.
    await deliver(uninstalled(personal, "remove"));
    await server.atom.jobs.drain();
    expect(await chunks(OTHER_TENANT)).toBe(0);
    const left = await tenantRowsLeft(server.atom.db, OTHER_TENANT);
    expect(Object.keys(left).sort()).toEqual(["audit_log", "jobs"]);
    const jobs = await server.atom.db.query<{ queue: string }>(
      "SELECT queue FROM jobs WHERE tenant_id = $1",
      [OTHER_TENANT],
    );
    expect(jobs.rows).toEqual([{ queue: "teams.purge" }]);
    const trail = (await listAudit(server.atom.db, { tenantId: OTHER_TENANT })).reverse();
    expect(trail.map((e) => e.action)).toEqual(["install", "uninstall", "uninstall", "data.purged"]);
    expect(trail.at(-1)!.detail).toMatchObject({
      reason: "Atom removed from the organisation's last Teams conversation",
      deleted: expect.objectContaining({ teams_conversations: 2 }),
    });

    // A late duplicate removal (Teams sends installationUpdate and conversationUpdate) purges nothing again.
    await deliver(removedFromTeam(team));
    expect(await listAudit(server.atom.db, { tenantId: OTHER_TENANT, action: "data.purged" })).toHaveLength(
      1,
    );

    // The default tenant's only conversation removed: inactive, never purged.
    const own = `a:1-personal-${TEST_USER.aadObjectId}`;
    await deliver(uninstalled(own, "remove", TEST_TEAMS_TENANT));
    expect(await activeOf(own, "default")).toBe(false);
    expect(await chunks("default")).toBeGreaterThan(0);
    expect(await listAudit(server.atom.db, { tenantId: "default", action: "data.purged" })).toEqual([]);
  });

  async function activeOf(conversationId: string, tenantId = OTHER_TENANT): Promise<boolean | undefined> {
    const r = await server.atom.db.query<{ active: boolean }>(
      "SELECT active FROM teams_conversations WHERE tenant_id = $1 AND conversation_id = $2",
      [tenantId, conversationId],
    );
    return r.rows[0]?.active;
  }
});
