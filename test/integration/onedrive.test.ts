import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Connection } from "../../src/db/connections.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";
import { principalsFor } from "../../src/security/permissions.ts";
import { capturedLogs, channelMessage, dm } from "../helpers/google.ts";
import {
  ANA_MS,
  ANA_SLACK,
  connectOneDrive,
  GRAPH_APP,
  type MicrosoftFakes,
  type OneDriveAtom,
  openOneDriveAtom,
  perm,
  startMicrosoftFakes,
  syncAll,
} from "../helpers/onedrive.ts";

/**
 * OneDrive through the real `@azure/msal-node` (code flow + PKCE) and `@microsoft/microsoft-graph-client`
 * against the loopback https fakes of the Microsoft identity platform and Graph v1.0.
 */
describe("OneDrive: connect with MSAL + PKCE, delta sync, permissions", () => {
  let f: MicrosoftFakes;
  let d: OneDriveAtom;
  let conn: () => Promise<Connection>;
  const ids: Record<string, string> = {};
  const doc = (itemId: string) => `${f.drive}:${itemId}`;

  const found = async (query: string, principals: string[]) =>
    (await d.atom.memory.search(query, { tenantId: "default", principals, limit: 10 })).hits.map(
      (h) => h.doc.docId,
    );
  const anaDm = ["anyone", "user:ana@contoso.com", "user:slack:uana", "domain:contoso.com"];
  const docIds = async () =>
    (
      await d.atom.db.query<{ doc_id: string }>(
        "SELECT doc_id FROM documents WHERE source_id LIKE 'onedrive:%'",
      )
    ).rows
      .map((r) => r.doc_id)
      .sort();

  beforeAll(async () => {
    f = await startMicrosoftFakes();
    const put = (name: string, text: string, permissions: object[], parentId?: string) =>
      f.graph.put(f.drive, { name, text, permissions: permissions as never, parentId }).id;
    ids.budget = put(
      "Offsite budget.txt",
      "The offsite budget for the spring retreat is 5300 euros per team.",
      [perm.owner(ANA_MS.upn), perm.org()],
    );
    ids.salary = put("Salary review.md", "# Salary review\n\nThe heron salary review happens in May.", [
      perm.owner(ANA_MS.upn),
    ]);
    ids.link = put("Link plan.txt", "The pelican launch plan is shared by an anonymous link only.", [
      perm.owner(ANA_MS.upn),
      perm.anonymous(),
    ]);
    ids.bob = put("Shared with Bob.txt", "The kestrel migration starts on Tuesday.", [
      perm.owner(ANA_MS.upn),
      perm.user("Bob@Contoso.com"),
      perm.group("eng@contoso.com"),
    ]);
    ids.folder = f.graph.put(f.drive, { name: "Projects", folder: true, permissions: [] }).id;
    ids.sub = f.graph.put(f.drive, { name: "Deep", folder: true, permissions: [], parentId: ids.folder }).id;
    ids.inFolder = put(
      "Project notes.txt",
      "The otter project ships in June.",
      [perm.owner(ANA_MS.upn)],
      ids.folder,
    );
    ids.deep = put(
      "Deep notes.txt",
      "The badger subproject ships in July.",
      [perm.owner(ANA_MS.upn)],
      ids.sub,
    );
    ids.video = f.graph.put(f.drive, { name: "clip.mp4", content: Buffer.alloc(10), permissions: [] }).id;
    d = await openOneDriveAtom(f, { ATOM_ORG_DOMAINS: "contoso.com" });
    conn = async () => (await d.atom.connections.store.list({ provider: "microsoft" }))[0]!;
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await f?.close();
  });

  it("connects through MSAL with PKCE and the Graph scopes, and indexes the drive", async () => {
    const page = await connectOneDrive(d.atom, f);
    expect(page.status, page.html).toBe(200);
    expect(page.html).toContain("Connected OneDrive as ana@contoso.com");
    const authorize = f.login.requests.find((r) => r.path.endsWith("/oauth2/v2.0/authorize"));
    expect(authorize).toBeDefined();
    const code = f.login.requests.find((r) => r.form?.grant_type === "authorization_code")!;
    expect(code.status).toBe(200);
    expect(code.form?.code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(code.form?.redirect_uri).toBe("https://atom.test.example/connect/microsoft/callback");
    for (const s of ["Files.Read.All", "offline_access", "User.Read", "Sites.Read.All"])
      expect(code.form?.scope?.split(" ")).toContain(s);
    const c = await conn();
    expect(c.accountEmail).toBe("ana@contoso.com");
    expect(c.status).toBe("active");
    expect(JSON.parse(c.cursor!).drives.me.link).toContain("/root/delta?token=");
    // MSAL's token cache is sealed per connection: no token in the row's clear text.
    const row = await d.atom.connections.store.tokens(c.id);
    for (const t of f.login.delegatedTokens()) expect(row!.tokensSealed).not.toContain(t);
    expect(await docIds()).toEqual(
      [ids.budget, ids.salary, ids.link, ids.bob, ids.inFolder, ids.deep].map((x) => doc(x!)).sort(),
    );
    const report = d.sent.at(-1)!.reply.text;
    expect(report).toContain("OneDrive connected as ana@contoso.com: 6 documents indexed.");
    expect(report).toContain("clip.mp4 — unsupported file type .mp4");
    // Every download went to the pre-authenticated URL without an Authorization header.
    const downloads = f.graph.callsTo(/^\/download\//);
    expect(downloads.length).toBe(6);
    expect(downloads.every((x) => !x.authorized && x.status === 200)).toBe(true);
  });

  it("answers with the item's webUrl; ACL from Graph permissions", async () => {
    const r = await d.atom.memory.search("offsite budget spring retreat", {
      tenantId: "default",
      principals: anaDm,
      limit: 3,
    });
    expect(r.hits[0]!.doc.uri).toContain("contoso-my.sharepoint.com");
    expect(r.hits[0]!.doc.uri).toContain("Offsite%20budget.txt");
    const acl = async (id: string) =>
      (
        await d.atom.db.query<{ acl: string[] }>("SELECT acl FROM documents WHERE doc_id = $1", [doc(id)])
      ).rows[0]!.acl.sort();
    const owner = ["user:ana@contoso.com", "user:slack:uana"];
    expect(await acl(ids.budget!)).toEqual(["domain:contoso.com", ...owner].sort());
    expect(await acl(ids.link!)).toEqual(owner);
    expect(await acl(ids.bob!)).toEqual(["group:eng@contoso.com", "user:bob@contoso.com", ...owner].sort());
  });

  it("permission matrix: private / organisation / anonymous link in a DM, a public channel, an external channel", async () => {
    const principals = (m: ReturnType<typeof dm>) => principalsFor(m, ["contoso.com"]);
    const dmP = principals(dm("q", ANA_SLACK));
    const pub = principals(channelMessage("q"));
    const ext = principals(channelMessage("q", { externallyShared: true }));
    const has = async (q: string, p: string[], id: string) => (await found(q, p)).includes(doc(id));
    // DM: everything Ana may open.
    expect(await has("heron salary review", dmP, ids.salary!)).toBe(true);
    expect(await has("offsite budget spring retreat", dmP, ids.budget!)).toBe(true);
    expect(await has("pelican launch plan", dmP, ids.link!)).toBe(true);
    // Public channel: organisation-shared only.
    expect(await has("offsite budget spring retreat", pub, ids.budget!)).toBe(true);
    expect(await has("heron salary review", pub, ids.salary!)).toBe(false);
    expect(await has("pelican launch plan", pub, ids.link!)).toBe(false);
    // Externally shared channel: not even organisation documents.
    expect(await has("offsite budget spring retreat", ext, ids.budget!)).toBe(false);
    expect(await has("pelican launch plan", ext, ids.link!)).toBe(false);
  });

  it("`in:onedrive` and a DM question cite the OneDrive document", async () => {
    const reply = await d.atom.bot.handle(dm("when does the otter project ship? in:onedrive", ANA_SLACK));
    expect(reply.text).toContain("June");
    expect(reply.text).toContain("Project%20notes.txt");
  });

  it("silent refresh: an expired access token is renewed through MSAL with the cached refresh token", async () => {
    f.login.expireAccessTokens();
    const before = f.login.requests.filter((r) => r.form?.grant_type === "refresh_token").length;
    f.graph.edit(f.drive, ids.salary!, "# Salary review\n\nThe heron salary review moved to October.");
    const asked = await d.atom.bot.handle(dm("sync onedrive", ANA_SLACK));
    expect(asked.text).toContain("Syncing OneDrive (ana@contoso.com) now");
    await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
    expect(f.login.requests.filter((r) => r.form?.grant_type === "refresh_token").length).toBe(before + 1);
    // "partial": clip.mp4 stays skipped; no error.
    expect((await conn()).lastSyncStatus).toBe("partial");
    expect((await conn()).lastError).toBeNull();
    const r = await d.atom.bot.handle(dm("when is the heron salary review?", ANA_SLACK));
    expect(r.text).toContain("October");
  });

  it("no access token, refresh token or client secret in any log line", () => {
    expect(capturedLogs.length).toBeGreaterThan(3);
    const secrets = [GRAPH_APP.clientSecret, ...f.login.delegatedTokens()];
    for (const line of capturedLogs) for (const s of secrets) expect(line).not.toContain(s);
  });

  it("revoked consent → connection broken, the owner told once, nothing deleted", async () => {
    const docsBefore = await docIds();
    f.login.revoke(ANA_MS.oid);
    await syncAll(d.atom);
    await syncAll(d.atom);
    const c = await conn();
    expect(c.status).toBe("broken");
    const notices = d.sent.filter((s) => s.reply.text.includes("stopped working"));
    expect(notices).toHaveLength(1);
    expect(notices[0]!.reply.text).toContain("connect onedrive");
    expect(await docIds()).toEqual(docsBefore);
  });

  it("`disconnect onedrive` removes the connection, its chunks and its folder tree", async () => {
    const reply = await d.atom.bot.handle(dm("disconnect onedrive", ANA_SLACK));
    expect(reply.text).toContain("Disconnected OneDrive");
    expect(await docIds()).toEqual([]);
    expect((await d.atom.db.query("SELECT * FROM drive_items")).rows).toHaveLength(0);
    expect(await found("otter project", ["anyone", "user:ana@contoso.com"])).toEqual([]);
  });
});
