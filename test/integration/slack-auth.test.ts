import net from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../src/observability/logger.ts";
import {
  appMention,
  deliverEvent,
  deliverSigned,
  eventCallback,
  nextTs,
  slashCommandBody,
} from "../helpers/slack.ts";
import { FakeSlack, type FakeTeam } from "./fakes/slack.ts";
import { type SlackHarness, startSlackHarness } from "./slack-harness.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

/**
 * The single-workspace bot identity (auth.test) is resolved in the background: deliveries are
 * acknowledged (and `/atom` gets its ephemeral "Working…") whatever state Slack's Web API is in,
 * and answers wait for the identity after the ack.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pino logger whose JSON records land in `records`. */
function capturingLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), records };
}

/** A TCP listener that accepts connections and never answers. */
async function silentListener(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback URL where nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/api/`;
}

const mentionOf = (team: FakeTeam, text: string, channel: string, ts = nextTs()) =>
  eventCallback({
    teamId: team.teamId,
    botUserId: team.botUserId,
    event: appMention({ botUserId: team.botUserId, text, channel, ts, teamId: team.teamId }),
  });

describe("Slack adapter: auth.test answering after 3 s", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let h: SlackHarness;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TSLOWAUTH" });
    fake.addUser({ id: "UASKER1", teamId: team.teamId, email: "ana@example.com" });
    fake.setDelay("auth.test", 3000);
    h = await startSlackHarness(fake, { SLACK_BOT_TOKEN: team.botToken });
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("acks a signed app_mention and /atom before auth.test answers, then answers once the identity arrives", async () => {
    const channel = "CSLOWAUTH1";
    const ts = nextTs();
    const responseUrl = fake.responseUrl();

    const mention = await deliverEvent(
      h.url,
      mentionOf(team, "what is the home office budget?", channel, ts),
    );
    expect(mention.status).toBe(200);

    const command = await deliverSigned(
      `${h.url}/slack/events`,
      slashCommandBody({
        teamId: team.teamId,
        text: "how many vacation days?",
        responseUrl,
        channelId: channel,
      }),
    );
    expect(command.status).toBe(200);
    expect(JSON.parse(command.text)).toMatchObject({ response_type: "ephemeral" });
    expect(command.text).toMatch(/Working/);

    // auth.test has not answered yet: nothing was answered before the identity is known.
    expect(fake.callsOf("auth.test")).toHaveLength(0);
    expect(fake.posted(channel)).toHaveLength(0);

    await fake.waitFor(() => fake.posted(channel).length === 1, 8000, "reply after auth.test");
    await fake.waitFor(() => fake.responses(responseUrl).length >= 1, 8000, "/atom answer");
    const authAt = fake.callsOf("auth.test")[0]?.at ?? Number.POSITIVE_INFINITY;
    const post = fake.callsOf("chat.postMessage").find((c) => c.params.channel === channel);
    expect(post?.at ?? 0).toBeGreaterThanOrEqual(authAt);
    expect(fake.posted(channel)[0]?.threadTs).toBe(ts);
    expect(fake.posted(channel)[0]?.token).toBe(team.botToken);

    // The mention of the bot (its user id comes from auth.test) is stripped from the question.
    const asked = h.bot.handled.find((m) => m.channelId === channel && m.visibility === "thread");
    expect(asked?.text).toBe("what is the home office budget?");
    expect(asked?.tenantId).toBe("default");
    expect(h.bot.handled.filter((m) => m.channelId === channel)).toHaveLength(2);
    expect(fake.callsOf("auth.test")).toHaveLength(1);
  });

  it("ignores its own message once the identity is known (bot user id from auth.test)", async () => {
    const channel = "CSLOWAUTH2";
    await fake.waitFor(() => fake.callsOf("auth.test").length === 1, 8000, "auth.test");
    const before = h.bot.handled.length;
    const own = eventCallback({
      teamId: team.teamId,
      event: appMention({ botUserId: team.botUserId, user: team.botUserId, text: "echo", channel }),
    });
    const r = await deliverEvent(h.url, own);
    expect(r.status).toBe(200);
    await h.drain();
    expect(h.bot.handled.length).toBe(before);
    expect(fake.posted(channel)).toHaveLength(0);
    expect(fake.callsOf("auth.test")).toHaveLength(1);
  });
});

describe("Slack adapter: auth.test answering after 3 s, OAuth installs enabled too", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let h: SlackHarness;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TMIXEDAUTH" });
    fake.addUser({ id: "UASKER1", teamId: team.teamId, email: "ana@example.com" });
    fake.setDelay("auth.test", 3000);
    h = await startSlackHarness(fake, {
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_CLIENT_ID: fake.clientId,
      SLACK_CLIENT_SECRET: fake.clientSecret,
      SLACK_STATE_SECRET: TEST_SECRETS.slackStateSecret,
    });
  });
  afterAll(async () => {
    await h?.close();
    await fake?.close();
  });

  it("acks at once and answers in the default tenant once auth.test names the env token's team", async () => {
    const channel = "CMIXEDAUTH1";
    const r = await deliverEvent(h.url, mentionOf(team, "where is the handbook?", channel));
    expect(r.status).toBe(200);
    // Acknowledged while auth.test (held 3 s by the fake) had not answered.
    expect(fake.callsOf("auth.test")).toHaveLength(0);
    await fake.waitFor(() => fake.posted(channel).length === 1, 8000, "reply");
    const asked = h.bot.handled.find((m) => m.channelId === channel);
    expect(asked?.tenantId).toBe("default");
    expect(asked?.text).toBe("where is the handbook?");
    expect(fake.posted(channel)[0]?.token).toBe(team.botToken);
  });
});

describe("Slack adapter: Web API unreachable for auth.test", () => {
  it("acks app_mention and /atom while the API listener never answers auth.test", async () => {
    const fake = await FakeSlack.start();
    const team = fake.addTeam({ teamId: "TNOANSWER" });
    const silent = await silentListener();
    const h = await startSlackHarness(fake, {
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_API_URL: silent.url,
    });
    try {
      const mention = await deliverEvent(h.url, mentionOf(team, "hello?", "CNOANSWER1"));
      expect(mention.status).toBe(200);
      const command = await deliverSigned(
        `${h.url}/slack/events`,
        slashCommandBody({ teamId: team.teamId, text: "status", responseUrl: fake.responseUrl() }),
      );
      expect(command.status).toBe(200);
      expect(JSON.parse(command.text)).toMatchObject({ response_type: "ephemeral" });
      expect(command.text).toMatch(/Working/);
    } finally {
      await h.close();
      await silent.close();
      await fake.close();
    }
  });

  it("acks at once when nothing listens, and logs one warning naming auth.test and the API URL, never the token", async () => {
    const fake = await FakeSlack.start();
    const team = fake.addTeam({ teamId: "TREFUSED" });
    const apiUrl = await closedPortUrl();
    const { logger, records } = capturingLogger();
    const h = await startSlackHarness(
      fake,
      { SLACK_BOT_TOKEN: team.botToken, SLACK_API_URL: apiUrl },
      { identityRetry: { minMs: 100, maxMs: 200 } },
      undefined,
      logger,
    );
    try {
      const mention = await deliverEvent(h.url, mentionOf(team, "anyone there?", "CREFUSED1"));
      expect(mention.status).toBe(200);
      const command = await deliverSigned(
        `${h.url}/slack/events`,
        slashCommandBody({ teamId: team.teamId, text: "help", responseUrl: fake.responseUrl() }),
      );
      expect(command.text).toMatch(/Working/);

      // Several attempts (backoff 100–200 ms), one warning.
      await fake.waitFor(
        () => records.filter((r) => r.msg === "slack auth.test retry failed").length >= 3,
        10_000,
        "auth.test retries",
      );
      const retries = records.filter((r) => r.msg === "slack auth.test retry failed");
      expect(retries.length).toBeGreaterThan(0);
      const warnings = records.filter((r) => (r.level as number) >= 40);
      const authWarnings = warnings.filter((r) => String(r.msg).includes("auth.test"));
      expect(authWarnings).toHaveLength(1);
      expect(String(authWarnings[0]?.msg)).toContain(apiUrl);
      expect(authWarnings[0]?.apiUrl).toBe(apiUrl);
      expect(String(authWarnings[0]?.reason)).toMatch(/ECONNREFUSED|fetch failed/);
      // The WebClient's bare "http request failed" lines are not warnings for auth.test.
      expect(warnings.filter((r) => String(r.msg).includes("http request failed"))).toHaveLength(0);
      expect(JSON.stringify(records)).not.toContain(team.botToken);
    } finally {
      await h.close();
      await fake.close();
    }
  });

  it("reports a rejected token in status without blocking the ack", async () => {
    const fake = await FakeSlack.start();
    const team = fake.addTeam({ teamId: "TREVOKED" });
    fake.revokeToken(team.botToken, "invalid_auth");
    const h = await startSlackHarness(fake, { SLACK_BOT_TOKEN: team.botToken });
    try {
      await fake.waitFor(() => fake.callsOf("auth.test").length === 1, 5000, "auth.test");
      const r = await deliverEvent(h.url, mentionOf(team, "hi", "CREVOKED1"));
      expect(r.status).toBe(200);
      await h.drain();
      expect(await h.bot.status("default")).toEqual([
        expect.stringMatching(
          /^Slack: not working \(token refused \(invalid_auth\) at .*Z\)\. Check SLACK_BOT_TOKEN\.$/,
        ),
      ]);
      // A rejected token is not retried in a loop.
      await sleep(700);
      expect(fake.callsOf("auth.test")).toHaveLength(1);
    } finally {
      await h.close();
      await fake.close();
    }
  });

  it("20 failing auth.test calls never say connected: status and /readyz show the failure and its time", async () => {
    const fake = await FakeSlack.start();
    const team = fake.addTeam({ teamId: "TFAILING" });
    fake.failNext("auth.test", ...Array.from({ length: 10_000 }, () => ({ status: 500 as const })));
    const h = await startSlackHarness(
      fake,
      { SLACK_BOT_TOKEN: team.botToken },
      { identityRetry: { minMs: 5, maxMs: 10 } },
    );
    try {
      // The fake records a call as it answers; the 21st call means the 20th failure was seen.
      await fake.waitFor(() => fake.callsOf("auth.test").length >= 21, 20_000, "20 failed auth.test calls");
      expect(fake.callsOf("auth.test").every((c) => c.status === 500)).toBe(true);
      const [line] = await h.bot.status("default");
      expect(line).toMatch(
        /^Slack: not connected — auth\.test failed \d+ times in a row, last at \d{4}-[\d-]+T[\d:]+Z \(HTTP 500\); retrying in the background\.$/,
      );
      expect(Number(line?.match(/failed (\d+) times/)?.[1])).toBeGreaterThanOrEqual(20);
      expect(line).not.toContain("connected (");
      const ready = await fetch(`${h.url}/readyz`);
      // Not critical: a Slack outage does not take the process out of rotation, but it is shown.
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { checks: { name: string; ok: boolean; error?: string }[] };
      const slack = body.checks.find((c) => c.name === "slack");
      expect(slack?.ok).toBe(false);
      expect(slack?.error).toMatch(
        /^SLACK_BOT_TOKEN: auth\.test failed \d+ times in a row, last at .*Z \(HTTP 500\)$/,
      );

      // Slack recovers: the next attempt succeeds and both say so, with its time.
      fake.clearFaults("auth.test");
      // The fake records its answer before Atom has read it: wait for Atom to see the success.
      const until = Date.now() + 10_000;
      while (h.adapter.credentials.single?.lastCheck?.ok !== true) {
        if (Date.now() > until) throw new Error("auth.test success not seen");
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(fake.callsOf("auth.test").some((c) => c.status === 200)).toBe(true);
      expect((await h.bot.status("default"))[0]).toMatch(
        /^Slack: connected \(single workspace; auth\.test ok at .*Z\)\.$/,
      );
      const after = (await (await fetch(`${h.url}/readyz`)).json()) as {
        checks: { name: string; ok: boolean; detail?: string }[];
      };
      expect(after.checks.find((c) => c.name === "slack")).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^SLACK_BOT_TOKEN: auth\.test ok at .*Z$/),
      });
    } finally {
      await h.close();
      await fake.close();
    }
  });

  it("/readyz lists each OAuth installation's state", async () => {
    const fake = await FakeSlack.start();
    const h = await startSlackHarness(fake, {
      SLACK_CLIENT_ID: fake.clientId,
      SLACK_CLIENT_SECRET: fake.clientSecret,
      SLACK_STATE_SECRET: TEST_SECRETS.slackStateSecret,
    });
    try {
      const empty = (await (await fetch(`${h.url}/readyz`)).json()) as {
        checks: { name: string; detail?: string }[];
      };
      expect(empty.checks.find((c) => c.name === "slack")?.detail).toBe("no OAuth installation yet");
      for (const [teamId, token] of [
        ["TREADY1", "xoxb-ready-1"],
        ["TREADY2", "xoxb-ready-2"],
      ] as const) {
        await h.adapter.credentials.save({
          tenantId: `slack:${teamId}`,
          teamId,
          scopes: "chat:write",
          botToken: token,
        });
      }
      await h.adapter.credentials.markBroken("slack:TREADY2", "token_revoked");
      const body = (await (await fetch(`${h.url}/readyz`)).json()) as {
        checks: { name: string; ok: boolean; detail?: string }[];
      };
      expect(body.checks.find((c) => c.name === "slack")).toMatchObject({
        ok: true,
        detail: "2 installation(s), 1 broken: slack:TREADY1 active, slack:TREADY2 broken (token_revoked)",
      });
    } finally {
      await h.close();
      await fake.close();
    }
  });
});
