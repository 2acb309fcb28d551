/**
 * End to end: `atom serve` with an OpenAI key (the fake OpenAI, streaming its answer slowly) and
 * Teams activities whose serviceUrl is the fake Bot Connector. In a personal chat the generated
 * answer streams (informative "searching…", cumulative updates, final card with the source); in a
 * group chat it arrives as one card.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { mention, postActivity, TEST_BOT, TEST_USER, teamsMessage } from "../helpers/teams.ts";
import { type FakeBotConnector, startFakeBotConnector } from "../integration/fakes/botframework.ts";
import { extractiveModel } from "../integration/fakes/llm-answer.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../integration/fakes/openai.ts";

describe("atom serve + Teams + OpenAI key: generated answers stream in personal chat", () => {
  let fake: FakeBotConnector;
  let openai: FakeOpenAi;
  let server: RunningServer;
  let dataDir: string;
  let docs: string;

  beforeAll(async () => {
    fake = await startFakeBotConnector({ streamMinIntervalMs: 900 });
    fake.addMember({ id: TEST_USER.id, aadObjectId: TEST_USER.aadObjectId, email: TEST_USER.email });
    openai = await startFakeOpenAi();
    // The model writes its (passage-reading) answer slowly enough to stream over several seconds.
    openai.setResponder((call) => ({ ...extractiveModel(call), pieceDelayMs: 400 }));
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-gen-"));
    docs = fs.mkdtempSync(path.join(os.tmpdir(), "atom-teams-gen-docs-"));
    fs.writeFileSync(
      path.join(docs, "spending-company-money.md"),
      "# Spending company money\n\n## Home office\n\nNew teammates can spend up to $2,000 on desk setup, including a chair, a desk and a monitor of their choice.\n",
    );
    server = await startServer(
      loadConfig({
        ATOM_DATA_DIR: dataDir,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "silent",
        OPENAI_API_KEY: openai.apiKey,
        OPENAI_BASE_URL: openai.url,
      }),
      { logger: silentLogger },
    );
    await server.atom.memory.syncFolder(docs, { tenantId: "default" });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await openai?.close();
    for (const d of [dataDir, docs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  const streamFields = (c: { body: Record<string, unknown> }) =>
    (c.body.entities as Array<{ type: string }> | undefined)?.some((e) => e.type === "streaminfo")
      ? (c.body.channelData as Record<string, unknown>)
      : undefined;

  it("personal chat: searching…, growing text, then the final card citing the document", async () => {
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "personal",
      text: "how much is the home office budget?",
    });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain({ timeoutMs: 60_000 });
    expect(openai.chats.at(-1)?.stream).toBe(true);
    const [s] = fake.streams();
    expect(s).toBeDefined();
    expect(s!.activities[0]).toMatchObject({ streamType: "informative", text: "searching…" });
    const updates = s!.activities.filter((a) => a.streamType === "streaming");
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.at(-1)!.text).toContain("$2,000");
    expect(s!.activities.at(-1)).toMatchObject({ type: "message", streamType: "final" });
    expect(fake.calls.filter((c) => c.status >= 400)).toEqual([]);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(streamFields(messages[0]!)).toMatchObject({ streamType: "final", streamId: s!.streamId });
    const card = JSON.stringify(messages[0]!.body.attachments);
    expect(card).toContain("$2,000");
    expect(card).toContain("spending-company-money.md");
  }, 90_000);

  it("group chat: one final card, no streaming activity", async () => {
    fake.reset();
    const activity = teamsMessage({
      serviceUrl: fake.url,
      kind: "groupChat",
      text: "<at>Ask Bot</at> how much is the home office budget?",
      entities: [mention(TEST_BOT)],
    });
    expect((await postActivity(server.url, activity)).status).toBe(200);
    await server.atom.jobs.drain({ timeoutMs: 60_000 });
    expect(fake.streams()).toEqual([]);
    expect(fake.posted().filter((c) => streamFields(c))).toEqual([]);
    const messages = fake.messages();
    expect(messages).toHaveLength(1);
    expect(JSON.stringify(messages[0]!.body.attachments)).toContain("$2,000");
  }, 90_000);
});
