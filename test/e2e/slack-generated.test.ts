import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { FOLDER_SYNC_QUEUE, type RunningServer, startServer } from "../../src/main.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { appMention, deliverEvent, eventCallback, messageEvent, nextTs } from "../helpers/slack.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../integration/fakes/openai.ts";
import { FakeSlack, type FakeTeam } from "../integration/fakes/slack.ts";
import { TEST_SECRETS } from "../helpers/secrets.ts";

const HANDBOOK = path.resolve(import.meta.dirname, "../../../shared/corpus/handbook");
const haveCorpus = fs.existsSync(HANDBOOK);
if (!haveCorpus) console.warn(`generated-answer e2e skipped: the handbook corpus is not at ${HANDBOOK}`);

const PASTED = "sk-proj-PastedInChat9f8e7d6c5b4a3928171615141312";

describe.skipIf(!haveCorpus)("atom serve + fake Slack + fake OpenAI: generated, streamed answers", () => {
  let fake: FakeSlack;
  let team: FakeTeam;
  let openai: FakeOpenAi;
  let server: RunningServer;
  let dataDir: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    fake = await FakeSlack.start();
    team = fake.addTeam({ teamId: "TGEN" });
    fake.addUser({ id: "UASKER1", teamId: "TGEN", email: "ana@example.com" });
    openai = await startFakeOpenAi();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-gen-e2e-"));
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      ATOM_DOCS_DIR: HANDBOOK,
      PORT: "0",
      HOST: "127.0.0.1",
      SLACK_BOT_TOKEN: team.botToken,
      SLACK_SIGNING_SECRET: TEST_SECRETS.slackSigningSecret,
      SLACK_API_URL: fake.apiUrl,
      // The workspace's own key (as set on the settings page); the base URL from the environment.
      // (With OPENAI_API_KEY in the environment search becomes hybrid over the fake's hash
      // embeddings, which rank spending-company-money.md below the five documents sent.)
      OPENAI_BASE_URL: openai.url,
      ATOM_AI_TIMEOUT_SECONDS: "8",
    });
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    server = await startServer(config, { logger: createLogger("debug", "atom", sink) });
    await server.atom.jobs.drain({ queues: [FOLDER_SYNC_QUEUE], timeoutMs: 120_000 });
    // Embeddings off for this workspace: its key writes answers, search stays full text (the
    // fake's hash vectors would rank spending-company-money.md below the five documents sent).
    await server.atom.ai.vault.store.putSettings("default", { embeddingModel: "off" }, "slack:UADMIN");
    await server.atom.ai.vault.set({
      tenantId: "default",
      provider: "openai",
      apiKey: openai.apiKey,
      setBy: "slack:UADMIN",
    });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await openai?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const ask = async (text: string, channel: string) => {
    const ts = nextTs();
    const r = await deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        botUserId: team.botUserId,
        event: appMention({ botUserId: team.botUserId, text, channel, ts, teamId: team.teamId }),
      }),
    );
    expect(r.status).toBe(200);
    await server.atom.jobs.drain({ timeoutMs: 60_000 });
    return ts;
  };

  it("streams the model's answer into the thread with the citation linked to spending-company-money.md", async () => {
    const channel = "CGEN0001";
    const ts = await ask("how much is the home office budget?", channel);
    // The model got the passages that hold the fact, and only those.
    expect(openai.chats).toHaveLength(1);
    expect(openai.chats[0]!.messages.at(-1)!.content).toContain("$2,000");
    expect(openai.chats[0]!.credential).toBe(`Bearer ${openai.apiKey}`);
    // setStatus while working, then the three stream methods; no plain postMessage.
    expect(fake.callsOf("assistant.threads.setStatus")[0]?.params).toMatchObject({
      channel_id: channel,
      thread_ts: ts,
      status: "searching…",
    });
    const start = fake.callsOf("chat.startStream");
    expect(start).toHaveLength(1);
    expect(start[0]!.error).toBeUndefined();
    expect(start[0]!.params).toMatchObject({
      channel,
      thread_ts: ts,
      recipient_user_id: "UASKER1",
      recipient_team_id: team.teamId,
    });
    expect(fake.callsOf("chat.appendStream").length).toBeGreaterThanOrEqual(1);
    expect(fake.callsOf("chat.appendStream").every((c) => !c.error)).toBe(true);
    const stop = fake.callsOf("chat.stopStream");
    expect(stop).toHaveLength(1);
    expect(stop[0]!.error).toBeUndefined();
    expect(fake.callsOf("chat.postMessage")).toHaveLength(0);
    const msg = fake.posted(channel).find((m) => m.threadTs === ts)!;
    expect(msg.text).toMatch(/\$2,000.*\[\d\]/);
    expect(JSON.stringify(msg.blocks)).toContain("spending-company-money.md");
    expect(msg.streaming).toBe(false);
    // Counted as a generated answer in /metrics.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/atom_answers_by_mode_total\{[^}]*mode="generated"[^}]*\} [1-9]/);
  });

  it("replaces an answer citing [9] of 5 passages with the extractive answer", async () => {
    fake.reset();
    openai.reset();
    openai.replyNext({ text: "The home office budget is $2,000 [9]." });
    const channel = "CGEN0002";
    const ts = await ask("how much is the home office budget?", channel);
    const sent = openai.chats[0]!.messages.at(-1)!.content.match(/<source n="/g)?.length ?? 0;
    expect(sent).toBeLessThanOrEqual(5);
    const msg = fake.posted(channel).find((m) => m.threadTs === ts)!;
    expect(JSON.stringify(msg.blocks)).toContain("From your documents:");
    expect(JSON.stringify(msg.blocks)).not.toContain("[9]");
    expect(JSON.stringify(msg.blocks)).toContain("spending-company-money.md");
    expect(fake.callsOf("chat.update")).toHaveLength(1);
    expect(
      fake.callsOf("chat.appendStream").filter((c) => c.at > fake.callsOf("chat.stopStream")[0]!.at),
    ).toEqual([]);
  });

  it("a model that times out: the extractive answer with a short note", async () => {
    fake.reset();
    openai.reset();
    openai.replyNext({ delayMs: 10_000, text: "too late [1]" }, { delayMs: 10_000, text: "too late [1]" });
    const channel = "CGEN0003";
    await ask("how much is the home office budget?", channel);
    const posts = fake.callsOf("chat.postMessage");
    expect(posts).toHaveLength(1);
    expect(String(posts[0]!.params.blocks)).toContain("From your documents:");
    expect(String(posts[0]!.params.blocks)).toContain("took too long");
    expect(fake.callsOf("chat.startStream")).toHaveLength(0);
  });

  it("a key pasted in a DM: a warning, and the key is in no table, file or log line", async () => {
    fake.reset();
    await deliverEvent(
      server.url,
      eventCallback({
        teamId: team.teamId,
        event: messageEvent({
          text: `here is our key ${PASTED} please use it`,
          channelType: "im",
          teamId: team.teamId,
        }),
      }),
    );
    await server.atom.jobs.drain({ timeoutMs: 60_000 });
    const posts = fake.callsOf("chat.postMessage");
    expect(posts).toHaveLength(1);
    expect(String(posts[0]!.params.text)).toContain("revoke it");
    expect(JSON.stringify(fake.calls)).not.toContain(PASTED);
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (fs.readFileSync(p).includes(PASTED.slice(8))) hits.push(p);
      }
    };
    await server.atom.db.query("CHECKPOINT").catch(() => {});
    walk(dataDir);
    expect(hits).toEqual([]);
    const turns = await server.atom.db.query("SELECT text FROM thread_turns");
    expect(JSON.stringify(turns.rows)).not.toContain(PASTED.slice(8));
    const jobs = await server.atom.db.query("SELECT payload FROM jobs");
    expect(JSON.stringify(jobs.rows)).not.toContain(PASTED.slice(8));
  });

  it("no key of the run appears in any log line", () => {
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join("\n");
    for (const secret of [openai.apiKey, team.botToken, PASTED.slice(8)]) expect(all).not.toContain(secret);
  });
});
