import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorSink, scrubEvent, startErrorReporting } from "../../src/observability/errors.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { FakeSentry } from "./fakes/sentry.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

/** Error reporting with the real @sentry/node against a loopback ingest: off by default, scrubbed. */
describe("error reporting to Sentry (SENTRY_DSN)", { timeout: 60_000 }, () => {
  let fake: FakeSentry;
  beforeAll(async () => {
    fake = await FakeSentry.start();
  });
  afterAll(async () => {
    await fake?.close();
  });

  it("is off without a DSN: nothing is loaded, nothing is sent", async () => {
    const stop = await startErrorReporting({});
    expect(errorSink()).toBeUndefined();
    await stop();
    expect(fake.envelopes).toEqual([]);
  });

  it("sends errors logged at error level, scrubbed of tokens, keys, Authorization, cookies and signed links", async () => {
    const stop = await startErrorReporting({ dsn: fake.dsn, environment: "test" });
    const lines: string[] = [];
    const logger = createLogger("info", "atom", { write: (s: string) => void lines.push(s) });
    logger.error(
      {
        err: new Error(
          "Slack refused xoxb-111-222-secretbot at https://atom.example.com/dashboard?link=lnk_SIGNED_9876",
        ),
        headers: { authorization: "Bearer sk-ant-api03-SECRETSECRET", cookie: "atom_admin=sess_COOKIE_123" },
        apiKey: TEST_SECRETS.openaiKey,
        tenant: "slack:T1",
      },
      "sending the answer failed",
    );
    logger.warn({ err: new Error("only a warning") }, "not reported");
    await stop();
    const events = fake.events();
    expect(events).toHaveLength(1);
    const raw = JSON.stringify(events);
    expect(raw).toContain("Slack refused");
    expect(raw).toContain("slack:T1");
    for (const secret of [
      "secretbot",
      "lnk_SIGNED_9876",
      "SECRETSECRET",
      "sess_COOKIE_123",
      "OPENAIKEYOPENAIKEY1234",
    ]) {
      expect(raw).not.toContain(secret);
    }
    expect(raw).not.toContain("only a warning");
  });

  it("scrubEvent drops request cookies, query strings and user, and redacts secret headers", () => {
    const e = scrubEvent({
      request: {
        url: "https://a/x?link=abc",
        cookies: { s: "1" },
        query_string: "link=abc",
        headers: { Authorization: "Bearer x", "User-Agent": "t" },
      },
      user: { ip_address: "1.2.3.4" },
    });
    expect(e).toEqual({
      request: {
        url: "https://a/x?link=[redacted]",
        headers: { Authorization: "[redacted]", "User-Agent": "t" },
      },
    });
  });
});
