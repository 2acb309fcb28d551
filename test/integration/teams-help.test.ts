/**
 * Empty Teams messages addressed to Atom (a bare @mention in a channel or group chat, an empty
 * personal message) are answered with the core's help, as Slack does — through the real bot core,
 * the core pipeline, real botbuilder and the fake Bot Connector. Empty messages not addressed to
 * Atom stay unanswered.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBot } from "../../src/bot/core.ts";
import { createLogger } from "../../src/observability/logger.ts";
import {
  activityText,
  mention,
  postActivity,
  TEST_BOT,
  TEST_TEAMS_TENANT,
  TEST_USER,
  teamsMessage,
} from "../helpers/teams.ts";
import { openTestMemory, type TestMemory } from "../helpers/memory.ts";
import { type FakeBotConnector, startFakeBotConnector } from "./fakes/botframework.ts";
import { type RunningTeams, startTeams } from "./teams-harness.ts";

const HELP = "Here is what I can do";

let fake: FakeBotConnector;
let mem: TestMemory;
let run: RunningTeams;

beforeAll(async () => {
  fake = await startFakeBotConnector();
  fake.addMember({ id: TEST_USER.id, name: TEST_USER.name, aadObjectId: TEST_USER.aadObjectId });
  mem = await openTestMemory();
  const bot = createBot({ db: mem.db, memory: mem.memory, logger: createLogger("silent") });
  run = await startTeams(bot, { db: mem.db });
}, 60_000);

afterAll(async () => {
  await run?.close();
  await fake?.close();
  await mem?.close();
});

beforeEach(() => fake.reset());

async function deliver(activity: Record<string, unknown>): Promise<void> {
  expect((await postActivity(run.url, activity)).status).toBe(200);
  await run.drain();
}

/** The stored outcome of the job of a message activity. */
async function jobResult(activity: Record<string, unknown>) {
  const conversation = (activity.conversation as { id: string }).id;
  const job = await run.jobs.store.get(
    "inbound",
    `teams:${TEST_TEAMS_TENANT}`,
    `message:${conversation}:${activity.id}`,
  );
  return job?.result;
}

describe("Teams: empty messages addressed to Atom get the help", () => {
  it("answers a channel message that only @mentions Atom with the help, in the thread", async () => {
    const thread = "19:abc123def@thread.tacv2;messageid=1717000000555";
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "channel",
      conversationId: thread,
      text: "<at>Ask Bot</at>",
      entities: [mention(TEST_BOT)],
    });
    await deliver(activity);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.conversationId).toBe(thread);
    expect(messages[0]!.activityId).toBe(activity.id);
    expect(activityText(messages[0]!.body)).toContain(HELP);
  });

  it("answers a group chat message that only @mentions Atom with the help", async () => {
    await deliver(
      teamsMessage({
        serviceUrl: fake.url,
        kind: "groupChat",
        text: "<at>Ask Bot</at>&nbsp;\r\n",
        entities: [mention(TEST_BOT)],
      }),
    );
    expect(fake.messages()).toHaveLength(1);
    expect(activityText(fake.messages()[0]!.body)).toContain(HELP);
  });

  it("answers an empty or null personal message with the help", async () => {
    await deliver(teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "" }));
    const nullText = { ...teamsMessage({ serviceUrl: fake.url, kind: "personal" }), text: null };
    await deliver(nullText);
    const messages = fake.messages();
    expect(messages).toHaveLength(2);
    for (const m of messages) expect(activityText(m.body)).toContain(HELP);
  });

  it("does not answer an empty message that does not mention Atom outside a 1:1 chat, nor an empty card submit", async () => {
    const group = teamsMessage({ serviceUrl: fake.url, kind: "groupChat", text: "" });
    await deliver(group);
    const submit = {
      ...teamsMessage({ serviceUrl: fake.url, kind: "personal", text: "" }),
      value: { someOtherCard: true },
    };
    await deliver(submit);
    expect(fake.messages()).toHaveLength(0);
    expect(await jobResult(group)).toEqual({ ignored: "a message without text or files" });
    expect(await jobResult(submit)).toEqual({ ignored: "a message without text or files" });
  });
});
