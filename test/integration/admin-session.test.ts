import crypto from "node:crypto";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBot } from "../../src/bot/core.ts";
import type { Bot } from "../../src/bot/types.ts";
import type { ChatMessage } from "../../src/core/ports.ts";
import { createLogger } from "../../src/observability/logger.ts";
import {
  ADMIN_COOKIE,
  type AdminEnv,
  type AdminWeb,
  createAdminWeb,
  registerSettingsCommand,
} from "../../src/server/admin-session.ts";
import { openTestMemory, type TestMemory } from "../helpers/memory.ts";

const message = (text: string, p: Partial<ChatMessage> = {}): ChatMessage => ({
  platform: "slack",
  tenantId: "T-adm",
  channelId: "C-1",
  threadId: `th-${Math.random()}`,
  messageId: `m-${Math.random()}`,
  userId: "U-ADMIN",
  text,
  files: [],
  isDirect: false,
  mentionsBot: true,
  visibility: "thread",
  ...p,
});

describe("admin web session: settings link → cookie → requireAdmin, CSRF", () => {
  let t: TestMemory;
  let bot: Bot;
  let admin: AdminWeb;
  let app: Hono<AdminEnv>;
  const masterKey = crypto.randomBytes(32);

  beforeAll(async () => {
    t = await openTestMemory();
    bot = createBot({ db: t.db, memory: t.memory, logger: createLogger("silent") });
    admin = createAdminWeb({ db: t.db, masterKey: () => masterKey, publicUrl: "https://atom.example.com/" });
    registerSettingsCommand(bot, admin);
    app = new Hono<AdminEnv>();
    app.use("/settings", admin.requireAdmin);
    app.use("/settings/*", admin.requireAdmin);
    app.get("/settings", (c) => {
      const s = c.get("admin");
      return c.html(`<p>tenant ${s.tenantId} user ${s.userId}</p><input name="_csrf" value="${s.csrf}">`);
    });
    app.post("/settings/save", admin.checkCsrf, (c) => c.text("saved"));
    app.use("/my-keys", admin.requirePerson);
    app.get("/my-keys", (c) => c.text(`own ${c.get("admin").scope} ${c.get("admin").userId}`));
  });
  afterAll(async () => {
    await t?.close();
  });

  const linkFrom = (text: string) => /https:\/\/atom\.example\.com\/settings\?link=\S+/.exec(text)?.[0];

  it("gives an admin a private single-use link that starts an HttpOnly SameSite session", async () => {
    const reply = await bot.handle(message("settings", { userIsAdmin: true }));
    expect(reply.intent).toBe("settings");
    expect(reply.visibility).toBe("ephemeral");
    const link = linkFrom(reply.text);
    expect(link).toBeDefined();
    const url = new URL(link!);

    const first = await app.request(`${url.pathname}${url.search}`);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/settings");
    const setCookie = first.headers.get("set-cookie") ?? "";
    expect(setCookie).toContain(`${ADMIN_COOKIE}=`);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Secure/i);
    const cookie = setCookie.split(";")[0]!;

    const page = await app.request("/settings", { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("tenant T-adm user U-ADMIN");
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

    // The link cannot be used again.
    const again = await app.request(`${url.pathname}${url.search}`);
    expect(again.status).toBe(403);
    expect(await again.text()).toContain("already used");

    // A form post needs the session's CSRF token.
    const post = (body: string) =>
      app.request("/settings/save", {
        method: "POST",
        headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
        body,
      });
    expect((await post("x=1")).status).toBe(403);
    expect((await post("x=1&_csrf=forged")).status).toBe(403);
    const ok = await post(`x=1&_csrf=${encodeURIComponent(csrf)}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("saved");
  });

  it("gives a non-admin no admin link, and refuses pages without a session, forged cookies and links", async () => {
    const reply = await bot.handle(message("settings", { userIsAdmin: false }));
    expect(reply.text).toContain("Only a workspace admin");
    expect(reply.text).not.toContain("/settings?link=");
    // Their own page's link starts a session that reaches no admin page.
    const own = /https:\/\/atom\.example\.com\/my-keys\?link=\S+/.exec(reply.text)?.[0];
    expect(own).toBeDefined();
    const ownUrl = new URL(own!);
    const started = await app.request(`${ownUrl.pathname}${ownUrl.search}`);
    expect(started.status).toBe(303);
    const ownCookie = (started.headers.get("set-cookie") ?? "").split(";")[0]!;
    expect(await (await app.request("/my-keys", { headers: { cookie: ownCookie } })).text()).toBe(
      "own self U-ADMIN",
    );
    expect((await app.request("/settings", { headers: { cookie: ownCookie } })).status).toBe(403);
    // A personal link used at an admin page does not start an admin session either.
    const own2 = new URL((await admin.personalLink(message("my keys")))!);
    const misused = await app.request(`/settings${own2.search}`);
    expect(misused.status).toBe(403);
    expect(misused.headers.get("set-cookie")).toBeNull();

    const unknown = await bot.handle(message("/settings", { userId: "U-2" }));
    expect(unknown.text).not.toContain("link=");

    expect((await app.request("/settings")).status).toBe(403);
    expect(
      (await app.request("/settings", { headers: { cookie: `${ADMIN_COOKIE}=e30.abcdef` } })).status,
    ).toBe(403);
    expect((await app.request("/settings?link=abc.123.def")).status).toBe(403);
    // A session cookie signed by another master key is refused.
    const other = createAdminWeb({
      db: t.db,
      masterKey: () => crypto.randomBytes(32),
      publicUrl: "https://atom.example.com",
    });
    const otherLink = new URL((await other.link(message("settings", { userIsAdmin: true })))!);
    expect((await app.request(`${otherLink.pathname}${otherLink.search}`)).status).toBe(403);
  });

  it("posts no link in a shared Teams conversation (Teams has no reply only the asker sees)", async () => {
    const reply = await bot.handle(message("settings", { platform: "teams", userIsAdmin: true }));
    expect(reply.text).not.toContain("link=");
    expect(reply.text).toContain("personal chat");
    const direct = await bot.handle(message("my keys", { platform: "teams", isDirect: true }));
    expect(direct.text).toMatch(/\/my-keys\?link=/);
  });

  it("refuses an expired link", async () => {
    const reply = await bot.handle(message("settings", { userIsAdmin: true }));
    const url = new URL(linkFrom(reply.text)!);
    await t.db.query(
      "UPDATE connect_links SET expires_at = now() - interval '1 minute' WHERE provider = 'admin'",
    );
    const r = await app.request(`${url.pathname}${url.search}`);
    expect(r.status).toBe(403);
  });
});
