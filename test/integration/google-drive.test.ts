import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../src/db/connections.ts";
import { exchangeCode, InvalidGrantError } from "../../src/security/google-oauth.ts";
import {
  ANA,
  capturedLogs,
  channelMessage,
  connectDrive,
  type DriveAtom,
  dm,
  openDriveAtom,
  PUBLIC_URL,
  syncNow,
} from "../helpers/google.ts";
import { FakeGoogle, type FakePermission } from "./fakes/google.ts";

const OWNER: FakePermission = { id: "p-owner", type: "user", role: "owner", emailAddress: "ana@example.com" };
const DOMAIN: FakePermission = {
  id: "p-dom",
  type: "domain",
  domain: "example.com",
  allowFileDiscovery: true,
};

describe("Google Drive: connect, first sync, change feed, permissions", () => {
  let fake: FakeGoogle;
  let d: DriveAtom;
  let conn: () => Promise<Connection>;
  const ids: Record<string, string> = {};

  const docRow = async (id: string) =>
    (
      await d.atom.db.query<{ acl: string[]; version: string; title: string; uri: string }>(
        "SELECT acl, version, title, uri FROM documents WHERE doc_id = $1",
        [id],
      )
    ).rows[0];
  const found = async (query: string, principals: string[]) =>
    (await d.atom.memory.search(query, { tenantId: "default", principals, limit: 10 })).hits.map(
      (h) => h.doc.docId,
    );
  const chunkAcl = async (id: string) =>
    (await d.atom.memory.store.chunks.query().where(`doc_id = '${id}'`).select(["acl"]).toArray()).map((r) =>
      Array.from(r.acl as Iterable<string>).sort(),
    );

  beforeAll(async () => {
    fake = await FakeGoogle.start();
    ids.budget = fake.addFile({
      name: "Offsite travel budget",
      text: "The travel budget for the autumn offsite is 4200 euros per team, approved by finance.",
      permissions: [OWNER, DOMAIN],
    }).id;
    ids.salary = fake.addFile({
      name: "Salary bands",
      text: "Salary bands for engineers: level three earns between 70000 and 85000 euros.",
      permissions: [OWNER, { id: "p-bob", type: "user", emailAddress: "Bob@Example.com" }],
    }).id;
    ids.sheet = fake.addFile({
      name: "Headcount",
      mimeType: "application/vnd.google-apps.spreadsheet",
      text: "team,people\nplatform,7\nmobile,5\n",
    }).id;
    ids.slides = fake.addFile({
      name: "Roadmap",
      mimeType: "application/vnd.google-apps.presentation",
      text: "Roadmap\n\nQ3: launch the quokka dashboard.",
    }).id;
    ids.notes = fake.addFile({
      name: "meeting-notes.md",
      mimeType: "text/markdown",
      text: "# Retro\n\nWe agreed to rotate the narwhal on-call duty weekly.",
    }).id;
    ids.link = fake.addFile({
      name: "Link-only plan",
      text: "The pelican migration plan is shared by link only.",
      permissions: [OWNER, { id: "p-any", type: "anyone", allowFileDiscovery: false }],
    }).id;
    ids.public = fake.addFile({
      name: "Public FAQ",
      text: "Our flamingo office opens at nine.",
      permissions: [OWNER, { id: "p-pub", type: "anyone", allowFileDiscovery: true }],
    }).id;
    ids.external = fake.addFile({
      name: "Vendor contract",
      text: "The walrus vendor contract renews in March.",
      canShare: false,
      permissionsHidden: true,
      permissions: [{ type: "user", emailAddress: "someone@vendor.com", role: "owner" }],
    }).id;
    fake.addFile({ name: "Projects", mimeType: "application/vnd.google-apps.folder" });
    const drive = fake.addSharedDrive("Engineering");
    ids.runbook = fake.addFile({
      name: "On-call runbook",
      driveId: drive,
      parents: [drive],
      text: "Page the octopus rotation when the ingest queue backs up.",
      permissions: [
        { id: "p-carol", type: "user", emailAddress: "carol@example.com", role: "organizer" },
        { id: "p-eng", type: "group", emailAddress: "eng@example.com", role: "writer" },
      ],
    }).id;
    d = await openDriveAtom(fake);
    conn = async () => (await d.atom.connections.store.list())[0]!;
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await fake?.close();
  });

  it("connects through OAuth with PKCE and indexes My Drive, shared-with-me and shared drives", async () => {
    const page = await connectDrive(d, fake);
    expect(page.status).toBe(200);
    expect(page.html).toContain("Connected Google Drive as ana@example.com");
    // The authorize request carried PKCE and offline access; the fake checked the verifier.
    const auth = fake.callsTo("/o/oauth2/v2/auth")[0]!;
    expect(auth.query).toMatchObject({
      code_challenge_method: "S256",
      access_type: "offline",
      prompt: "consent",
    });
    expect(auth.query.scope).toBe("openid email https://www.googleapis.com/auth/drive.readonly");
    expect(auth.query.redirect_uri).toBe(`${PUBLIC_URL}/connect/google/callback`);
    expect(fake.callsTo("/token")[0]?.status).toBe(200);

    const c = await conn();
    expect(c).toMatchObject({ accountEmail: "ana@example.com", status: "active", ownerUserId: "UANA" });
    expect(c.tokensSealed).not.toContain("ya29");
    expect(c.cursor).toBe("11");
    // 9 documents (a folder is not a document), the sheet as CSV, the deck and doc as text.
    const rows = await d.atom.db.query<{ n: number }>("SELECT count(*)::int AS n FROM documents");
    expect(rows.rows[0]?.n).toBe(9);
    expect(c.documents).toBe(9);
    const budget = await docRow(ids.budget!);
    expect(budget?.uri).toBe(`https://docs.google.com/document/d/${ids.budget}/edit?usp=drivesdk`);
    expect(budget?.title).toBe("Offsite travel budget");
    // Permissions → ACL, plus the connecting user.
    expect(budget?.acl).toEqual(["domain:example.com", "user:ana@example.com", "user:slack:uana"]);
    expect((await docRow(ids.salary!))?.acl).toEqual([
      "user:ana@example.com",
      "user:bob@example.com",
      "user:slack:uana",
    ]);
    expect((await docRow(ids.link!))?.acl).toEqual(["user:ana@example.com", "user:slack:uana"]);
    expect((await docRow(ids.public!))?.acl).toContain("anyone");
    expect((await docRow(ids.external!))?.acl).toEqual(["user:ana@example.com", "user:slack:uana"]);
    // Shared-drive items carry no inline permissions: listed with permissions.list.
    expect((await docRow(ids.runbook!))?.acl).toEqual([
      "group:eng@example.com",
      "user:ana@example.com",
      "user:carol@example.com",
      "user:slack:uana",
    ]);
    expect(fake.callsTo(`/drive/v3/files/${ids.runbook}/permissions`)).toHaveLength(1);
    expect(fake.callsTo(`/drive/v3/files/${ids.budget}/permissions`)).toHaveLength(0);
    // Sheets are exported as CSV, Docs and Slides as plain text; the BOM is gone.
    expect(fake.callsTo(`/drive/v3/files/${ids.sheet}/export`)[0]?.query.mimeType).toBe("text/csv");
    expect(fake.callsTo(`/drive/v3/files/${ids.slides}/export`)[0]?.query.mimeType).toBe("text/plain");
    const texts = await d.atom.memory.store.chunks.query().select(["text", "doc_id"]).toArray();
    expect(texts.some((t) => String(t.text).startsWith("\uFEFF"))).toBe(false);
    expect(texts.find((t) => t.doc_id === ids.sheet)?.text).toContain("platform");
    // Every call that takes them carried supportsAllDrives (and includeItemsFromAllDrives for lists).
    for (const call of fake.calls.filter(
      (x) => x.path.startsWith("/drive/v3/") && !x.path.endsWith("/drives"),
    )) {
      if (call.path.endsWith("/about")) continue;
      if (!call.path.endsWith("/export")) expect(call.query.supportsAllDrives, call.path).toBe("true");
      if (call.path === "/drive/v3/files" || call.path === "/drive/v3/changes") {
        expect(call.query.includeItemsFromAllDrives).toBe("true");
        expect(call.query.fields).toContain("nextPageToken");
      }
      if (call.path === "/drive/v3/files") expect(call.query.q).toContain("trashed = false");
    }
    // The owner hears about it once, in a DM.
    expect(d.sent).toHaveLength(1);
    expect(d.sent[0]?.target).toEqual({ platform: "slack", tenantId: "default", userId: "UANA" });
    expect(d.sent[0]?.reply.text).toContain(
      "Google Drive connected as ana@example.com: 9 documents indexed.",
    );
  });

  it("answers the owner in a DM with the Doc's webViewLink, and a channel only from what everyone may see", async () => {
    const reply = await d.atom.bot.handle(dm("how much is the travel budget for the autumn offsite?"));
    expect(reply.found).toBe(true);
    expect(reply.citations[0]?.uri).toBe(
      `https://docs.google.com/document/d/${ids.budget}/edit?usp=drivesdk`,
    );
    const salaryDm = await d.atom.bot.handle(dm("what do level three engineers earn in the salary bands?"));
    expect(salaryDm.citations[0]?.uri).toContain(ids.salary);
    // A public channel: domain-shared and public documents yes (ATOM_ORG_DOMAINS unset → learned
    // from nobody yet → only `anyone`), private ones no.
    await d.atom.orgDomains.learnFrom("default", "boss@example.com");
    const salaryChannel = await d.atom.bot.handle(
      channelMessage("what do level three engineers earn in the salary bands?"),
    );
    expect(salaryChannel.citations.map((x) => x.uri).join(" ")).not.toContain(ids.salary);
    const budgetChannel = await d.atom.bot.handle(
      channelMessage("how much is the travel budget for the autumn offsite?"),
    );
    expect(budgetChannel.citations[0]?.uri).toContain(ids.budget);
    // …but not in a channel shared with other organisations.
    const shared = await d.atom.bot.handle(
      channelMessage("how much is the travel budget for the autumn offsite?", { externallyShared: true }),
    );
    expect(shared.citations.map((x) => x.uri).join(" ")).not.toContain(ids.budget);
    // "Anyone with the link" is not everyone.
    expect(await found("pelican migration plan", ["anyone", "domain:example.com"])).toEqual([]);
    expect(await found("pelican migration plan", ["user:ana@example.com"])).toEqual([ids.link]);
    expect(await found("flamingo office", ["anyone"])).toEqual([ids.public]);
  });

  it("in:drive, in:folder and since: filters narrow the search", async () => {
    const drive = await d.atom.bot.handle(dm("find docs about narwhal in:drive"));
    expect(drive.citations.map((c) => c.uri)).toEqual([expect.stringContaining(ids.notes!)]);
    expect(drive.text).not.toContain("in:drive");
    const folder = await d.atom.bot.handle(dm("find docs about narwhal in:folder"));
    expect(folder.found).toBe(false);
    // The fake's files were modified in January 2026: older than a day, younger than ten years.
    const recent = await d.atom.bot.handle(dm("find docs about narwhal since:1d"));
    expect(recent.found).toBe(false);
    const old = await d.atom.bot.handle(dm("find docs about narwhal since:3650d"));
    expect(old.citations[0]?.uri).toContain(ids.notes);
    const ask = await d.atom.bot.handle(dm("who rotates the narwhal on-call duty? in:drive"));
    expect(ask.citations[0]?.uri).toContain(ids.notes);
  });

  it("applies exactly the changes of the feed: new, edited, trashed, restored, removed, sharing-only", async () => {
    const downloadsBefore = new Map(Object.entries(ids).map(([k, id]) => [k, fake.downloadsOf(id).length]));
    const cursorBefore = (await conn()).cursor;
    ids.fresh = fake.addFile({
      name: "Fresh doc",
      text: "The axolotl tank is cleaned on Fridays.",
      permissions: [OWNER],
    }).id;
    fake.editFile(ids.notes!, "# Retro\n\nWe agreed to rotate the capybara on-call duty monthly.");
    fake.trash(ids.slides!);
    fake.remove(ids.public!);
    fake.setPermissions(ids.salary!, [OWNER]);
    await syncNow(d);
    expect((await conn()).cursor).not.toBe(cursorBefore);
    expect(await found("axolotl tank", ["user:ana@example.com"])).toEqual([ids.fresh]);
    expect(await found("capybara", ["user:ana@example.com"])).toEqual([ids.notes]);
    expect(await found("narwhal", ["user:ana@example.com"])).toEqual([]);
    expect(await found("quokka dashboard", ["user:ana@example.com"])).toEqual([]);
    expect(await found("flamingo office", ["anyone"])).toEqual([]);
    // Sharing-only change: ACL updated in both stores, nothing downloaded.
    expect((await docRow(ids.salary!))?.acl).toEqual(["user:ana@example.com", "user:slack:uana"]);
    for (const acl of await chunkAcl(ids.salary!)) expect(acl).not.toContain("user:bob@example.com");
    expect(await found("salary bands level three", ["user:bob@example.com"])).toEqual([]);
    expect(fake.downloadsOf(ids.salary!).length).toBe(downloadsBefore.get("salary"));
    // Unchanged documents were not downloaded again.
    for (const k of ["budget", "sheet", "link", "external", "runbook"]) {
      expect(fake.downloadsOf(ids[k]!).length, k).toBe(downloadsBefore.get(k));
    }
    expect(fake.downloadsOf(ids.notes!).length).toBe(downloadsBefore.get("notes")! + 1);

    // Restored from the trash: back in memory.
    fake.trash(ids.slides!, false);
    await syncNow(d);
    expect(await found("quokka dashboard", ["user:ana@example.com"])).toEqual([ids.slides]);
    const docs = await d.atom.db.query<{ doc_id: string }>("SELECT doc_id FROM documents ORDER BY doc_id");
    expect(docs.rows.map((r) => r.doc_id)).toEqual(
      ["budget", "salary", "sheet", "slides", "notes", "link", "external", "runbook", "fresh"]
        .map((k) => ids[k])
        .sort(),
    );
    expect((await conn()).documents).toBe(9);
  });

  it("resolves shortcuts: a document target once under its id, a folder target walked (cycle stops), an inaccessible target skipped", async () => {
    // A link-shared folder (not in the user's corpus) reached through a shortcut; inside it a doc
    // and a shortcut back to the folder itself.
    const folder = fake.addFile({
      name: "Partner folder",
      mimeType: "application/vnd.google-apps.folder",
      linkOnly: true,
    });
    ids.partner = fake.addFile({
      name: "Partner brief",
      text: "The heron partnership starts in May.",
      parents: [folder.id],
      linkOnly: true,
      permissions: [{ type: "anyone", allowFileDiscovery: false }],
      canShare: false,
    }).id;
    fake.addFile({
      name: "Back to folder",
      mimeType: "application/vnd.google-apps.shortcut",
      shortcutTargetId: folder.id,
      parents: [folder.id],
      linkOnly: true,
    });
    fake.addFile({
      name: "Partner folder (shortcut)",
      mimeType: "application/vnd.google-apps.shortcut",
      shortcutTargetId: folder.id,
    });
    // Shortcut to a document that is also listed on its own: one document.
    fake.addFile({
      name: "Budget (shortcut)",
      mimeType: "application/vnd.google-apps.shortcut",
      shortcutTargetId: ids.budget,
    });
    // Shortcut to a document reachable only through it.
    ids.linked = fake.addFile({
      name: "Linked memo",
      text: "The ibis memo lists the office plants.",
      linkOnly: true,
      canShare: false,
    }).id;
    fake.addFile({
      name: "Memo (shortcut)",
      mimeType: "application/vnd.google-apps.shortcut",
      shortcutTargetId: ids.linked,
    });
    fake.addFile({
      name: "Dead shortcut",
      mimeType: "application/vnd.google-apps.shortcut",
      shortcutTargetId: "doesNotExist42",
    });
    // Full listing (forget the cursor) exercises the listing path too.
    await d.atom.connections.store.clearCursor((await conn()).id);
    await syncNow(d);
    expect(await found("heron partnership", ["user:ana@example.com"])).toEqual([ids.partner]);
    expect(await found("ibis memo", ["user:ana@example.com"])).toEqual([ids.linked]);
    const budgetChunks = await d.atom.memory.store.count(`doc_id = '${ids.budget}'`);
    expect(budgetChunks).toBe(1);
    const skipped = await d.atom.db.query<{ reason: string; name: string }>(
      "SELECT name, reason FROM skipped_files",
    );
    expect(skipped.rows).toContainEqual({
      name: "Dead shortcut",
      reason: "shortcut target is not accessible",
    });
    expect((await conn()).cursor).not.toBeNull();
  });

  it("falls back to exportLinks when a Doc is over the export limit, else skips it once for good", async () => {
    ids.big = fake.addFile({
      name: "Big handbook",
      text: "The cormorant policy covers travel.",
      exportTooLarge: true,
      exportLink: true,
    }).id;
    ids.huge = fake.addFile({ name: "Huge report", text: "The albatross report.", exportTooLarge: true }).id;
    await syncNow(d);
    expect(await found("cormorant policy", ["user:ana@example.com"])).toEqual([ids.big]);
    expect(fake.callsTo("/feeds/download/export").at(-1)?.token).toMatch(/^ya29\./);
    const skip = await d.atom.db.query<{ reason: string; permanent: boolean }>(
      "SELECT reason, permanent FROM skipped_files WHERE doc_id = $1",
      [ids.huge],
    );
    expect(skip.rows[0]).toEqual({
      reason: "too large for Google Drive's export, and no export link",
      permanent: true,
    });
    const exportsBefore = fake.callsTo(`/drive/v3/files/${ids.huge}/export`).length;
    await d.atom.connections.store.clearCursor((await conn()).id);
    await syncNow(d);
    await syncNow(d);
    expect(fake.callsTo(`/drive/v3/files/${ids.huge}/export`).length).toBe(exportsBefore);
  });

  it("sign-in links are private, single-use, signed and expire; the callback needs the same browser", async () => {
    // Asked in a channel, the link goes to the asker's DM; the channel only hears that it did.
    const sentBefore = d.sent.length;
    const inChannel = await d.atom.bot.handle({
      ...channelMessage("connect drive"),
      userEmail: "ana@example.com",
    });
    expect(inChannel.text).toBe("I sent you a sign-in link for Google Drive in a direct message.");
    expect(d.sent[sentBefore]?.target).toEqual({ platform: "slack", tenantId: "default", userId: "UANA" });
    expect(d.sent[sentBefore]?.reply.text).toMatch(/https:\/\/atom\.test\.example\/connect\/google\?link=/);
    // As an ephemeral /atom command, it is the reply itself (only the asker sees it).
    const slash = await d.atom.bot.handle({ ...channelMessage("connect drive"), visibility: "ephemeral" });
    expect(slash.visibility).toBe("ephemeral");
    expect(slash.text).toMatch(/connect\/google\?link=/);
    const provider = d.atom.connections.provider("google")!;
    const link = await d.atom.connections.signInLink(provider, ANA);
    const token = new URL(link).searchParams.get("link")!;
    const path = (t: string) => `/connect/google?link=${encodeURIComponent(t)}`;
    // Forged (signature of another id) and altered expiry are refused before the database.
    const [id, exp, sig] = token.split(".");
    expect((await d.atom.app.request(path(`${id}x.${exp}.${sig}`))).status).toBe(400);
    expect((await d.atom.app.request(path(`${id}.${Number(exp) + 600}.${sig}`))).status).toBe(400);
    // Expired after 10 minutes.
    const later = await d.atom.connections.ctx.links.use("google", token, Date.now() + 11 * 60_000);
    expect(later).toEqual({ ok: false, reason: "expired" });
    const first = await d.atom.app.request(path(token));
    expect(first.status).toBe(302);
    const second = await d.atom.app.request(path(token));
    expect(second.status).toBe(400);
    expect(await second.text()).toContain("already used");
    // The consent comes back, but to another browser (no cookie): refused, nothing connected.
    const consent = await fetch(first.headers.get("location")!, { redirect: "manual" });
    const back = new URL(consent.headers.get("location")!);
    const stranger = await d.atom.app.request(`${back.pathname}${back.search}`);
    expect(stranger.status).toBe(400);
    expect(await stranger.text()).toContain("another browser");
    // A denied consent connects nothing either.
    const denied = await d.atom.app.request("/connect/google/callback?error=access_denied&state=nope");
    expect(denied.status).toBe(400);
  });

  it("periodic syncs are queued once per time slot, whatever the number of replicas", async () => {
    const first = await d.atom.connections.enqueueAll("periodic", "slot-42");
    const twin = await d.atom.connections.enqueueAll("periodic", "slot-42");
    expect(first).toBe(1);
    expect(twin).toBe(0);
    await d.atom.jobs.drain({ queues: ["sync"] });
  });

  it("disconnect removes the connection and every chunk it brought", async () => {
    const reply = await d.atom.bot.handle(dm("disconnect drive"));
    expect(reply.text).toMatch(/Disconnected Google Drive \(ana@example.com\)/);
    expect(reply.visibility).toBe("ephemeral");
    expect(await d.atom.connections.store.list()).toEqual([]);
    expect(await d.atom.memory.store.count()).toBe(0);
    expect((await d.atom.db.query("SELECT 1 FROM documents")).rowCount).toBe(0);
    expect((await d.atom.db.query("SELECT 1 FROM skipped_files")).rowCount).toBe(0);
  });

  it("never logs a token or the client secret", () => {
    const secrets = [fake.clientSecret, ...fake.accessTokens.keys(), ...fake.refreshTokens.keys()];
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    expect(capturedLogs.length).toBeGreaterThan(5);
    for (const line of capturedLogs) for (const s of secrets) expect(line).not.toContain(s);
  });
});

describe("Google OAuth code exchange", () => {
  it("is refused by the token endpoint without the right PKCE verifier", async () => {
    const fake = await FakeGoogle.start();
    try {
      const auth = new URL(fake.authorizeUrl);
      const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
      for (const [k, v] of Object.entries({
        client_id: fake.clientId,
        response_type: "code",
        redirect_uri: "https://atom.test/cb",
        code_challenge: challenge,
        code_challenge_method: "S256",
        access_type: "offline",
        scope: "https://www.googleapis.com/auth/drive.readonly",
        state: "s",
      }))
        auth.searchParams.set(k, v);
      const consent = await fetch(auth, { redirect: "manual" });
      const code = new URL(consent.headers.get("location")!).searchParams.get("code")!;
      const client = {
        clientId: fake.clientId,
        clientSecret: fake.clientSecret,
        authorizeUrl: fake.authorizeUrl,
        tokenUrl: fake.tokenUrl,
        redirectUri: "https://atom.test/cb",
      };
      await expect(
        exchangeCode(client, code, "a-wrong-verifier-of-enough-length-0000000000"),
      ).rejects.toBeInstanceOf(InvalidGrantError);
    } finally {
      await fake.close();
    }
  });
});
