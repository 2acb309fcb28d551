import { listAudit } from "../../src/db/audit.ts";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../integration/fakes/openai.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`settings page test skipped: no Chromium at ${CHROMIUM}`);
const ARTIFACTS = path.resolve(import.meta.dirname, "../artifacts");

const WORKSPACE_KEY = `sk-proj-ws${crypto.randomBytes(12).toString("hex")}Wk42`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const chat = (text: string, p: Partial<ChatMessage> = {}): ChatMessage => ({
  platform: "slack",
  tenantId: "default",
  channelId: "D-admin",
  threadId: crypto.randomUUID(),
  messageId: crypto.randomUUID(),
  userId: "U-ADMIN",
  userEmail: "admin@example.com",
  text,
  files: [],
  isDirect: true,
  mentionsBot: true,
  visibility: "thread",
  ...p,
});

describe.skipIf(!haveChromium)("settings page in headless Chromium (atom serve + fake OpenAI)", () => {
  let server: RunningServer;
  let openai: FakeOpenAi;
  let browser: Browser;
  let dataDir: string;
  let docs: string;

  beforeAll(async () => {
    openai = await startFakeOpenAi();
    openai.acceptKey(WORKSPACE_KEY);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-settings-"));
    docs = fs.mkdtempSync(path.join(os.tmpdir(), "atom-settings-docs-"));
    fs.writeFileSync(
      path.join(docs, "spending-company-money.md"),
      "# Spending company money\n\n## Home office\n\nNew teammates can spend up to $2,000 on desk setup.\n",
    );
    const port = await freePort();
    const config = loadConfig({
      ATOM_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: "silent",
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.url,
    });
    server = await startServer(config, { logger: silentLogger });
    await server.atom.memory.syncFolder(docs, { tenantId: "default" });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await openai?.close();
    for (const d of [dataDir, docs]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it("an admin sets a workspace key, tests it; the link is single-use, CSRF is enforced, the key is used", async () => {
    const reply = await server.atom.bot.handle(chat("settings", { userIsAdmin: true }));
    const link = /http:\/\/127\.0\.0\.1:\d+\/settings\?link=\S+/.exec(reply.text)?.[0];
    expect(link).toBeDefined();

    const context = await browser.newContext();
    const page = await context.newPage();
    const first = await page.goto(link!);
    expect(first?.status()).toBe(200);
    expect(new URL(page.url()).search).toBe("");
    await expect(page.locator("h1").textContent()).resolves.toBe("Atom settings");
    expect(await page.locator("#provider-openai .state").textContent()).toContain("environment key");

    await page.fill("#provider-openai input[name=apiKey]", WORKSPACE_KEY);
    await page.click("#provider-openai button[type=submit]:has-text('Save')");
    expect(await page.locator("#flash").textContent()).toContain("OpenAI settings saved");
    const state = (await page.locator("#provider-openai .state").textContent()) ?? "";
    expect(state).toContain("Workspace key …Wk42");
    expect(await page.content()).not.toContain(WORKSPACE_KEY);

    await page.click("#provider-openai button[name=test]");
    expect(await page.locator("#flash").textContent()).toContain("OpenAI: working");
    const modelsCall = openai.chats.length; // /v1/models is not a chat
    expect(modelsCall).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, "settings-page.png"), fullPage: true });

    // The link cannot be used again (a fresh browser).
    const other = await browser.newContext();
    const again = await (await other.newPage()).goto(link!);
    expect(again?.status()).toBe(403);
    await other.close();

    // A form post with the session cookie but without the CSRF token is refused.
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "atom_admin");
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe("Lax");
    const forged = await fetch(`${server.url}/settings/keys/openai`, {
      method: "POST",
      headers: {
        cookie: `atom_admin=${session!.value}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "remove=1",
    });
    expect(forged.status).toBe(403);
    expect((await server.atom.ai.vault.resolve("default", "openai"))?.scope).toBe("workspace");

    // The audit log says who set which key, with its last 4 characters only.
    const audit = await listAudit(server.atom.db, { tenantId: "default" });
    const set = audit.find((e) => e.action === "key.set");
    expect(set?.detail).toMatchObject({
      provider: "openai",
      scope: "workspace",
      last4: WORKSPACE_KEY.slice(-4),
    });
    expect(set?.actor).toBe("U-ADMIN");
    expect(JSON.stringify(audit)).not.toContain(WORKSPACE_KEY);

    // A non-admin gets no settings link (only one to their own keys); without a session the page is 403.
    const refused = await server.atom.bot.handle(chat("settings", { userId: "U-BOB", userIsAdmin: false }));
    expect(refused.text).not.toContain("/settings?link=");
    expect((await fetch(`${server.url}/settings`)).status).toBe(403);

    // Answers now use the workspace key, not the environment's.
    openai.reset();
    const answer = await server.atom.bot.handle(chat("how much is the home office budget?"));
    expect(openai.chats.at(-1)?.credential).toBe(`Bearer ${WORKSPACE_KEY}`);
    expect(answer.text).toMatch(/\$2,000.*\[1\]/);
    await context.close();

    // The key is nowhere in the data dir in clear text.
    const hits: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (fs.readFileSync(p).includes(WORKSPACE_KEY)) hits.push(p);
      }
    };
    walk(dataDir);
    expect(hits).toEqual([]);
  });
});
