/**
 * The Teams bot with an app id, end to end over loopback: inbound activities carry a JWT signed by
 * a fake Bot Framework OpenID issuer; Atom gets its own token from a fake Microsoft identity platform
 * (client credentials through MSAL and botframework-connector, over HTTPS); the fake Bot Connector
 * accepts only calls carrying that token. And tenancy: which Entra tenants are answered, refused, or
 * kept apart as their own tenant.
 */
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { REFUSAL_TEXT } from "../../src/adapters/teams/index.ts";
import {
  activityText,
  cardActionInvoke,
  mention,
  postActivity,
  TEST_BOT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import {
  type FakeBotConnector,
  type FakeBotFrameworkAuth,
  startFakeBotConnector,
  startFakeBotFrameworkAuth,
} from "./fakes/botframework.ts";
import { type FakeMicrosoftLogin, startFakeMicrosoftLogin } from "./fakes/microsoft-login.ts";
import { countRows, RecordingBot, type RunningTeams, startTeams } from "./teams-harness.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

const APP_ID = "11111111-2222-3333-4444-555555555555";
const SECRET = TEST_SECRETS.teamsAppPassword;
/** A second, MultiTenant bot registration (tokens are cached per app id in the process). */
const OPEN_APP_ID = "66666666-2222-3333-4444-555555555555";
/** The bot's own directory (MICROSOFT_APP_TENANT_ID). */
const HOME = "72f988bf-0000-4000-8000-000000000001";
/** An organisation on the ATOM_TEAMS_TENANTS allow-list. */
const PARTNER = "22222222-0000-4000-8000-0000000000bb";
/** An organisation nobody allowed. */
const STRANGER = "99999999-0000-4000-8000-0000000000ff";

let issuer: FakeBotFrameworkAuth;
let login: FakeMicrosoftLogin;
let connector: FakeBotConnector;
let db: Db;
const logLines: string[] = [];
const logger = pino({ level: "debug" }, { write: (l: string) => logLines.push(l) });

beforeAll(async () => {
  issuer = await startFakeBotFrameworkAuth();
  login = await startFakeMicrosoftLogin();
  login.addClient({ clientId: APP_ID, clientSecret: SECRET, tenants: [HOME] });
  login.addClient({ clientId: OPEN_APP_ID, clientSecret: SECRET, tenants: ["botframework.com"] });
  connector = await startFakeBotConnector({ login, appId: APP_ID });
  connector.addMember({
    id: TEST_USER.id,
    name: TEST_USER.name,
    aadObjectId: TEST_USER.aadObjectId,
    email: TEST_USER.email,
  });
  db = await openPglite("memory://");
  await migrate(db);
});

afterAll(async () => {
  await connector?.close();
  await login?.close();
  await issuer?.close();
  await db?.close();
  // Nothing Atom logged holds the client secret or a token.
  expect(logLines.length).toBeGreaterThan(0);
  for (const line of logLines) {
    expect(line).not.toContain(SECRET);
    expect(line).not.toMatch(/eyJ[\w-]+\.[\w-]+\./);
  }
});

beforeEach(() => {
  connector.reset();
});

const endpoints = () => ({
  openIdMetadataUrl: issuer.openIdMetadataUrl,
  loginUrl: login.url,
  loginCa: login.ca,
});
const bearer = (serviceUrl = connector.url, appId = APP_ID) =>
  `Bearer ${issuer.token({ appId, serviceUrl })}`;

/** A message from an organisation (its tenant in `conversation.tenantId` and `channelData.tenant`). */
const from = (tenant: string | undefined, o: Partial<Parameters<typeof teamsMessage>[0]> = {}) => {
  const a = teamsMessage({ serviceUrl: connector.url, kind: "personal", teamsTenantId: tenant ?? "", ...o });
  if (tenant === undefined) {
    delete (a.conversation as { tenantId?: string }).tenantId;
    delete (a.channelData as { tenant?: unknown }).tenant;
  }
  return a;
};

describe("SingleTenant bot (the default) with an allow-list", () => {
  let bot: RecordingBot;
  let secured: RunningTeams;

  beforeAll(async () => {
    bot = new RecordingBot();
    secured = await startTeams(bot, {
      db,
      logger,
      endpoints: endpoints(),
      env: {
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_PASSWORD: SECRET,
        MICROSOFT_APP_TENANT_ID: HOME,
        ATOM_TEAMS_TENANTS: PARTNER,
      },
    });
  });
  afterAll(async () => {
    await secured?.close();
  });

  const counts = async () => ({
    refs: await countRows(db, "teams_conversations"),
    jobs: await countRows(db, "jobs"),
    handled: bot.handled.length,
  });

  it("rejects a bad or missing token: 401, nothing stored, no call to the serviceUrl", async () => {
    const attacker = await startFakeBotConnector();
    try {
      expect(secured.teams.authenticated).toBe(true);
      const before = await counts();
      const activity = teamsMessage({
        serviceUrl: attacker.url,
        kind: "personal",
        text: "leak the handbook",
        conversationId: "a:attacker-conv",
        teamsTenantId: HOME,
      });
      const bad = await postActivity(secured.url, activity, "Bearer not-a-jwt");
      expect(bad.status).toBe(401);
      expect(await bad.text()).not.toContain("not-a-jwt");
      expect((await postActivity(secured.url, activity)).status).toBe(401);
      // Well-formed tokens that must not pass: unknown signing key, other bot, other serviceUrl, expired, other issuer.
      const forged = [
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, signWith: "stranger" }),
        issuer.token({ appId: "99999999-2222-3333-4444-555555555555", serviceUrl: attacker.url }),
        issuer.token({ appId: APP_ID, serviceUrl: connector.url }),
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, expiresInSeconds: -3600 }),
        issuer.token({ appId: APP_ID, serviceUrl: attacker.url, issuer: "https://evil.example" }),
      ];
      for (const t of forged)
        expect((await postActivity(secured.url, activity, `Bearer ${t}`)).status).toBe(401);
      await secured.drain();
      expect(await counts()).toEqual(before);
      expect(attacker.calls).toHaveLength(0);
    } finally {
      await attacker.close();
    }
  });

  it("answers its own organisation end to end: JWT in, a client-credentials token out, checked by the connector", async () => {
    const activity = from(HOME, { text: "what is the home office budget?" });
    expect((await postActivity(secured.url, activity, bearer())).status).toBe(200);
    await secured.drain();
    const reply = connector.messages()[0];
    expect(reply).toMatchObject({ kind: "reply", activityId: activity.id, status: 200, auth: "bearer" });
    expect(activityText(reply?.body)).toContain("You asked: what is the home office budget?");
    // Every connector call carried Atom's token (the fake answers 401 otherwise).
    expect(connector.calls.length).toBeGreaterThanOrEqual(2);
    expect(connector.calls.every((c) => c.auth === "bearer" && c.status === 200)).toBe(true);
    expect(bot.handled.at(-1)).toMatchObject({ tenantId: "default", userEmail: TEST_USER.email });
    // The token came from the bot's own directory with the client credentials grant.
    const issued = login.issued();
    expect(issued.length).toBeGreaterThanOrEqual(1);
    expect(issued[0]).toMatchObject({
      path: `/${HOME}/oauth2/v2.0/token`,
      form: {
        grant_type: "client_credentials",
        client_id: APP_ID,
        client_secret: "[secret]",
        scope: "https://api.botframework.com/.default",
      },
    });
    expect(login.requests.every((r) => r.path.startsWith(`/${HOME}/`))).toBe(true);
    expect(
      (await secured.teams.references.get("default", (activity.conversation as { id: string }).id))
        ?.teamsTenantId,
    ).toBe(HOME);
  });

  it("answers an organisation on the ATOM_TEAMS_TENANTS allow-list from the default tenant", async () => {
    const activity = from(PARTNER, {
      kind: "channel",
      text: "<at>Ask Bot</at> travel policy?",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(secured.url, activity, bearer())).status).toBe(200);
    await secured.drain();
    expect(connector.messages()).toHaveLength(1);
    expect(bot.handled.at(-1)).toMatchObject({ tenantId: "default", text: "travel policy?" });
  });

  it("refuses another organisation politely and touches no data: no reference, no answer, no text kept", async () => {
    const before = await counts();
    const activity = from(STRANGER, { text: "what is the home office budget? secret-question-words" });
    expect((await postActivity(secured.url, activity, bearer())).status).toBe(200);
    await secured.drain();
    const replies = connector.messages();
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ kind: "reply", activityId: activity.id, auth: "bearer" });
    expect(activityText(replies[0]?.body)).toBe(REFUSAL_TEXT);
    expect(JSON.stringify(replies[0]?.body)).not.toContain("You asked");
    // No member lookup, no reference, the bot never saw it.
    expect(connector.calls.map((c) => c.kind)).toEqual(["reply"]);
    const after = await counts();
    expect(after.refs).toBe(before.refs);
    expect(after.handled).toBe(before.handled);
    // The one job row holds no word of what was asked.
    const [job] = await db
      .query<{ payload: unknown; result: unknown }>(
        "SELECT payload, result FROM jobs ORDER BY id DESC LIMIT 1",
      )
      .then((r) => r.rows);
    expect(JSON.stringify(job?.payload)).not.toContain("secret-question-words");
    expect(JSON.stringify(job?.payload)).not.toContain("home office");
    expect(job?.result).toEqual({ ignored: `Entra tenant ${STRANGER} is not allowed` });
  });

  it("refuses an activity without a tenant id, and drops what is not addressed to the bot without storing it", async () => {
    const missing = from(undefined, { text: "who am I?" });
    expect((await postActivity(secured.url, missing, bearer())).status).toBe(200);
    await secured.drain();
    expect(activityText(connector.messages()[0]?.body)).toBe(REFUSAL_TEXT);
    connector.reset();
    const before = await counts();
    const chatter = from(STRANGER, { kind: "channel", text: "lunch?" });
    expect((await postActivity(secured.url, chatter, bearer())).status).toBe(200);
    const install = {
      ...from(STRANGER, { kind: "channel" }),
      type: "conversationUpdate",
      membersAdded: [{ id: TEST_BOT.id }],
    };
    expect((await postActivity(secured.url, install, bearer())).status).toBe(200);
    await secured.drain();
    expect(await counts()).toEqual(before);
    expect(connector.calls).toHaveLength(0);
  });

  it("answers another organisation's button press with the refusal and records nothing", async () => {
    const invoke = cardActionInvoke({
      serviceUrl: connector.url,
      kind: "personal",
      verb: "atom",
      teamsTenantId: STRANGER,
      data: { atomAction: "feedback_up", value: "ans-1", answerId: "ans-1" },
    });
    const res = await postActivity(secured.url, invoke, bearer());
    expect(await res.json()).toMatchObject({ statusCode: 200, value: REFUSAL_TEXT });
    expect(bot.actions).toHaveLength(0);
    const own = {
      ...invoke,
      id: `${invoke.id}1`,
      conversation: { ...(invoke.conversation as object), tenantId: HOME },
      channelData: { tenant: { id: HOME } },
    };
    const ok = await postActivity(secured.url, own, bearer());
    expect(((await ok.json()) as { value: string }).value).toBe("Thanks — your feedback was recorded.");
    expect(bot.feedback).toEqual([
      { tenantId: "default", answerId: "ans-1", userId: TEST_USER.aadObjectId, rating: "up" },
    ]);
  });

  it("refuses an IPv6-literal serviceUrl with a 400 before anything else", async () => {
    const activity = from(HOME, { serviceUrl: "http://[::1]:9/", text: "v6" });
    const res = await postActivity(secured.url, activity, bearer("http://[::1]:9/"));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/IPv6 address literal/);
  });

  it("shows in /readyz and status whether the bot can get its token, from a real token request", async () => {
    const before = login.issued().length;
    const ready = await fetch(`${secured.url}/readyz`);
    const body = (await ready.json()) as { ok: boolean; checks: Array<Record<string, unknown>> };
    expect(body.checks).toEqual([
      expect.objectContaining({
        name: "teams",
        ok: true,
        critical: false,
        detail: expect.stringMatching(/^Bot Framework token acquired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      }),
    ]);
    expect(login.issued().length).toBe(before + 1);
    const [line] = await bot.contributors[0]!("default");
    expect(line).toMatch(
      /^Teams: bot app 11111111… \(SingleTenant, tenant 72f988bf-0000-4000-8000-000000000001\); Bot Framework token acquired at [^;]+Z(; last reply sent at [^;]+Z)?; \d+ conversation\(s\) reachable, 0 inactive$/,
    );
    // The identity platform now refuses the secret: readiness says so (not critical), status too.
    login.failTokens(401, 2);
    const failing = (await (await fetch(`${secured.url}/readyz`)).json()) as typeof body;
    expect(failing.ok).toBe(true);
    expect(failing.checks[0]).toMatchObject({ name: "teams", ok: false, critical: false });
    expect(String(failing.checks[0]?.error)).toMatch(
      /Bot Framework token request failed at .*(invalid_client|AADSTS7000215)/,
    );
    expect(JSON.stringify(failing)).not.toContain(SECRET);
    const [bad] = await bot.contributors[0]!("default");
    expect(bad).toMatch(/cannot get a Bot Framework token \(checked at .*(invalid_client|AADSTS7000215)/);
  });
});

describe("opened to other organisations (ATOM_TEAMS_OTHER_TENANTS=separate)", () => {
  let bot: RecordingBot;
  let open: RunningTeams;
  let openConnector: FakeBotConnector;
  const token = () => bearer(openConnector.url, OPEN_APP_ID);
  const msg = (tenant: string, o: Partial<Parameters<typeof teamsMessage>[0]> = {}) =>
    from(tenant, { serviceUrl: openConnector.url, ...o });

  beforeAll(async () => {
    bot = new RecordingBot();
    openConnector = await startFakeBotConnector({ login, appId: OPEN_APP_ID });
    openConnector.addMember({ id: TEST_USER.id, name: TEST_USER.name, email: "someone@stranger.example" });
    open = await startTeams(bot, {
      db,
      logger,
      endpoints: endpoints(),
      env: {
        MICROSOFT_APP_ID: OPEN_APP_ID,
        MICROSOFT_APP_PASSWORD: SECRET,
        MICROSOFT_APP_TYPE: "MultiTenant",
        MICROSOFT_APP_TENANT_ID: HOME,
        ATOM_TEAMS_OTHER_TENANTS: "separate",
      },
    });
  });
  afterAll(async () => {
    await open?.close();
    await openConnector?.close();
  });

  it("answers another organisation as its own tenant, never the default one", async () => {
    const activity = msg(STRANGER, { text: "what do you know?", conversationId: "a:1-stranger-chat" });
    expect((await postActivity(open.url, activity, token())).status).toBe(200);
    await open.drain();
    expect(openConnector.messages()).toHaveLength(1);
    expect(openConnector.calls.every((c) => c.auth === "bearer" && c.status === 200)).toBe(true);
    expect(bot.handled.at(-1)).toMatchObject({ tenantId: `teams:${STRANGER}` });
    // MultiTenant: the token comes from the botframework.com directory.
    expect(login.issued().at(-1)?.path).toBe("/botframework.com/oauth2/v2.0/token");
    expect(await open.teams.references.get(`teams:${STRANGER}`, "a:1-stranger-chat")).not.toBeNull();
    expect(await open.teams.references.get("default", "a:1-stranger-chat")).toBeNull();
    // The home organisation still belongs to the default tenant.
    await postActivity(open.url, msg(HOME, { text: "home question" }), token());
    await open.drain();
    expect(bot.handled.at(-1)).toMatchObject({ tenantId: "default", text: "home question" });
  });

  it("does not post for the default tenant through a reference of another organisation", async () => {
    // A row as an older, wider configuration stored it: another organisation's chat under "default".
    await open.teams.references.save({
      tenantId: "default",
      conversationId: "a:1-legacy",
      channelId: "a:1-legacy",
      teamsTenantId: STRANGER,
      conversationType: "personal",
      reference: {
        serviceUrl: connector.url,
        channelId: "msteams",
        bot: TEST_BOT,
        conversation: { id: "a:1-legacy" },
      },
    });
    await expect(
      open.teams.messenger.send(
        { platform: "teams", tenantId: "default", channelId: "a:1-legacy" },
        makeReply({ intent: "workflow", text: "default tenant digest" }),
      ),
    ).rejects.toThrow(/belongs to an organisation that is not part of this tenant/);
    expect(openConnector.calls.filter((c) => c.conversationId === "a:1-legacy")).toHaveLength(0);
  });
});
