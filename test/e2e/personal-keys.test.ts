/**
 * A person's own AI keys in headless Chromium, through `atom serve` and the fake OpenAI: the
 * private `my keys` link works once, its session reaches no admin page or form, a key saved there
 * is used for that person's generated answers while everyone else keeps the workspace key, and
 * the audit log records it with scope "user" and the last 4 characters only.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import { listAudit } from "../../src/db/audit.ts";
import { type RunningServer, startServer } from "../../src/main.ts";
import { silentLogger } from "../../src/observability/logger.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../integration/fakes/openai.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.warn(`personal keys test skipped: no Chromium at ${CHROMIUM}`);
const ARTIFACTS = path.resolve(import.meta.dirname, "../artifacts");

const WORKSPACE_KEY = `sk-proj-ws${crypto.randomBytes(12).toString("hex")}Wk42`;
const BOB_KEY = `sk-proj-bob${crypto.randomBytes(12).toString("hex")}Bb77`;

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
  channelId: "D-bob",
  threadId: crypto.randomUUID(),
  messageId: crypto.randomUUID(),
  userId: "U-BOB",
  userEmail: "bob@example.com",
  text,
  files: [],
  isDirect: true,
  mentionsBot: true,
  visibility: "thread",
  userIsAdmin: false,
  ...p,
});

describe.skipIf(!haveChromium)(
  "a person's own AI keys in headless Chromium (atom serve + fake OpenAI)",
  () => {
    let server: RunningServer;
    let openai: FakeOpenAi;
    let browser: Browser;
    let dataDir: string;
    let docs: string;

    beforeAll(async () => {
      openai = await startFakeOpenAi();
      openai.acceptKey(WORKSPACE_KEY);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-mykeys-"));
      docs = fs.mkdtempSync(path.join(os.tmpdir(), "atom-mykeys-docs-"));
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
        OPENAI_BASE_URL: openai.url,
      });
      server = await startServer(config, { logger: silentLogger });
      await server.atom.memory.syncFolder(docs, { tenantId: "default" });
      // The workspace key an admin set earlier.
      await server.atom.ai.vault.set({
        tenantId: "default",
        provider: "openai",
        apiKey: WORKSPACE_KEY,
        setBy: "slack:U-ADMIN",
      });
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

    it("the my-keys link works once, reaches no admin form, and Bob's key answers Bob only", async () => {
      // `settings` from a non-admin, and `my keys`: a private link to the person's own page only.
      const viaSettings = await server.atom.bot.handle(chat("settings"));
      expect(viaSettings.visibility).toBe("ephemeral");
      expect(viaSettings.text).not.toMatch(/\/settings\?link=/);
      expect(viaSettings.text).toMatch(/\/my-keys\?link=/);
      const reply = await server.atom.bot.handle(chat("my keys"));
      expect(reply.visibility).toBe("ephemeral");
      const link = /http:\/\/127\.0\.0\.1:\d+\/my-keys\?link=\S+/.exec(reply.text)?.[0];
      expect(link).toBeDefined();

      const context = await browser.newContext();
      const page = await context.newPage();
      expect((await page.goto(link!))?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe("/my-keys");
      expect(new URL(page.url()).search).toBe("");
      expect(await page.locator("h1").textContent()).toBe("Your AI keys");
      expect(await page.locator("#provider-openai .state").textContent()).toContain(
        "workspace's setup is used",
      );
      // The workspace key is neither shown nor hinted at (not even its last 4).
      expect(await page.content()).not.toContain("Wk42");
      expect(await page.locator("a[href='/settings']").count()).toBe(0);

      await page.fill("#provider-openai input[name=apiKey]", BOB_KEY);
      await page.click("#provider-openai button[type=submit]:has-text('Save')");
      expect(await page.locator("#flash").textContent()).toContain("Your OpenAI key was saved");
      expect(await page.locator("#provider-openai .state").textContent()).toContain("Your key …Bb77");
      expect(await page.content()).not.toContain(BOB_KEY);

      // Test sends Bob's key (not the workspace's, which the fake accepts): refused until the
      // provider knows it, then working.
      await page.click("#provider-openai button[name=test]");
      expect(await page.locator("#flash").textContent()).toContain(
        "OpenAI: not working — the key was refused",
      );
      openai.acceptKey(BOB_KEY);
      await page.click("#provider-openai button[name=test]");
      expect(await page.locator("#flash").textContent()).toContain("OpenAI: working — your key …Bb77");
      await page.screenshot({ path: path.join(ARTIFACTS, "personal-keys-page.png"), fullPage: true });

      // The link works once.
      const other = await browser.newContext();
      expect((await (await other.newPage()).goto(link!))?.status()).toBe(403);
      await other.close();

      // Bob's session reaches no admin page or form (403), even with his CSRF token.
      const cookie = (await context.cookies()).find((c) => c.name === "atom_admin")!;
      expect(cookie.httpOnly).toBe(true);
      expect(cookie.sameSite).toBe("Lax");
      const adminPage = await page.goto(`${server.url}/settings`);
      expect(adminPage?.status()).toBe(403);
      await page.goto(`${server.url}/my-keys`);
      const csrf = await page.locator("input[name=_csrf]").first().getAttribute("value");
      for (const [url, body] of [
        ["/settings/keys/openai", `remove=1&_csrf=${encodeURIComponent(csrf!)}`],
        ["/settings/models", `answerModel=x&_csrf=${encodeURIComponent(csrf!)}`],
      ] as const) {
        const res = await fetch(`${server.url}${url}`, {
          method: "POST",
          headers: {
            cookie: `atom_admin=${cookie.value}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body,
        });
        expect(res.status).toBe(403);
      }
      expect((await server.atom.ai.vault.resolve("default", "openai"))?.last4).toBe("Wk42");
      // A form post of the personal page without the CSRF token is refused too.
      const forged = await fetch(`${server.url}/my-keys/keys/openai`, {
        method: "POST",
        headers: {
          cookie: `atom_admin=${cookie.value}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "remove=1",
      });
      expect(forged.status).toBe(403);

      // Bob's answers use Bob's key; Carol's still use the workspace key.
      openai.reset();
      const bobAnswer = await server.atom.bot.handle(chat("how much is the home office budget?"));
      expect(openai.chats.at(-1)?.credential).toBe(`Bearer ${BOB_KEY}`);
      expect(bobAnswer.text).toMatch(/\$2,000.*\[1\]/);
      openai.reset();
      await server.atom.bot.handle(
        chat("how much is the home office budget?", { userId: "U-CAROL", userEmail: "carol@example.com" }),
      );
      expect(openai.chats.at(-1)?.credential).toBe(`Bearer ${WORKSPACE_KEY}`);

      // Audit: key.set / key.removed with scope "user", last 4 only.
      await page.click("#provider-openai button:has-text('Remove my key')");
      expect(await page.locator("#flash").textContent()).toContain("Your OpenAI key was removed");
      const audit = await listAudit(server.atom.db, { tenantId: "default" });
      expect(audit.find((e) => e.action === "key.set")?.detail).toEqual({
        provider: "openai",
        scope: "user",
        last4: "Bb77",
      });
      expect(audit.find((e) => e.action === "key.removed")?.detail).toEqual({
        provider: "openai",
        scope: "user",
      });
      expect(audit.find((e) => e.action === "key.set")?.actor).toBe("U-BOB");
      expect(JSON.stringify(audit)).not.toContain(BOB_KEY);
      openai.reset();
      await server.atom.bot.handle(chat("how much is the home office budget?"));
      expect(openai.chats.at(-1)?.credential).toBe(`Bearer ${WORKSPACE_KEY}`);
      await context.close();

      // The key is nowhere in the data dir in clear text.
      const hits: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (fs.readFileSync(p).includes(BOB_KEY)) hits.push(p);
        }
      };
      walk(dataDir);
      expect(hits).toEqual([]);
    }, 120_000);

    it("an admin gets the admin page and a link to their own section, which their session opens", async () => {
      const reply = await server.atom.bot.handle(
        chat("settings", { userId: "U-ADMIN", userEmail: "admin@example.com", userIsAdmin: true }),
      );
      const adminLink = /http:\/\/127\.0\.0\.1:\d+\/settings\?link=\S+/.exec(reply.text)?.[0];
      expect(adminLink).toBeDefined();
      expect(reply.text).toMatch(/\/my-keys\?link=/);
      const context = await browser.newContext();
      const page = await context.newPage();
      expect((await page.goto(adminLink!))?.status()).toBe(200);
      expect(await page.locator("h1").textContent()).toBe("Atom settings");
      await page.click("#my-keys");
      expect(new URL(page.url()).pathname).toBe("/my-keys");
      expect(await page.locator("h1").textContent()).toBe("Your AI keys");
      expect(await page.locator("#provider-openai .state").textContent()).toContain(
        "workspace's setup is used",
      );
      await context.close();
    }, 60_000);
  },
);
