import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatAction } from "../../src/core/ports.ts";
import { dm } from "../helpers/google.ts";
import {
  ANA_MS,
  ANA_SLACK,
  connectOneDrive,
  type MicrosoftFakes,
  type OneDriveAtom,
  openOneDriveAtom,
  perm,
  startMicrosoftFakes,
  syncAll,
} from "../helpers/onedrive.ts";
import { SYNC_QUEUE } from "../../src/connections/types.ts";

/** SharePoint document libraries chosen in chat, synced through `/sites/{id}/drive/root/delta`. */
describe("SharePoint libraries on a OneDrive connection", () => {
  let f: MicrosoftFakes;
  let d: OneDriveAtom;
  let site: { siteId: string; driveId: string };
  let siteDoc: string;
  let siteItem: string;
  const hits = async (q: string) =>
    (
      await d.atom.memory.search(q, {
        tenantId: "default",
        principals: ["anyone", "user:ana@contoso.com"],
        limit: 10,
      })
    ).hits.map((h) => h.doc.uri);
  const press = (actionId: string, value: string): ChatAction => ({
    platform: "slack",
    tenantId: "default",
    channelId: "DANA",
    userId: ANA_SLACK.userId,
    userEmail: ANA_SLACK.userEmail,
    actionId,
    value,
    isDirect: true,
  });

  beforeAll(async () => {
    f = await startMicrosoftFakes();
    f.graph.put(f.drive, {
      name: "Personal.txt",
      text: "The personal walrus list.",
      permissions: [perm.owner(ANA_MS.upn)],
    });
    site = f.graph.addSite({ name: "Finance" });
    f.graph.addSite({ name: "Marketing" });
    f.graph.follow(ANA_MS.oid, site.siteId);
    const invoices = f.graph.put(site.driveId, {
      name: "Invoices.txt",
      text: "Supplier invoices are paid within 30 days by the finance team.",
      permissions: [perm.user(ANA_MS.upn), perm.group("finance@contoso.com")],
      webUrl: "https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Invoices.txt",
    });
    siteDoc = invoices.webUrl;
    siteItem = invoices.id;
    d = await openOneDriveAtom(f);
    await connectOneDrive(d.atom, f);
  }, 240_000);

  afterAll(async () => {
    await d?.close();
    await f?.close();
  });

  it("the first-sync message offers the followed sites with Sync buttons", () => {
    const report = d.sent.at(-1)!.reply;
    expect(report.text).toContain("OneDrive connected as ana@contoso.com: 1 document indexed.");
    expect(report.text).toContain("You also follow 1 SharePoint site (Finance)");
    expect(report.actions.map((a) => a.label)).toEqual(["Sync Finance"]);
  });

  it("`sharepoint sites` lists followed sites with a Sync button; pressing it syncs the library", async () => {
    expect(await hits("supplier invoices paid")).toEqual([]);
    const reply = await d.atom.bot.handle(dm("sharepoint sites", ANA_SLACK));
    expect(reply.visibility).toBe("ephemeral");
    expect(reply.text).toContain("Finance — not synced");
    expect(reply.text).not.toContain("Marketing");
    const add = reply.actions.find((a) => a.label === "Sync Finance")!;
    expect(add).toBeDefined();
    const done = await d.atom.bot.handleAction(press(add.id, add.value));
    expect(done?.text).toContain("Syncing the SharePoint site Finance");
    await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
    expect(f.graph.callsTo(/^\/v1\.0\/sites\/[^/]+\/drive\/root\/delta$/).length).toBe(1);
    expect(await hits("supplier invoices paid")).toContain(siteDoc);
    const acl = (
      await d.atom.db.query<{ acl: string[] }>("SELECT acl FROM documents WHERE uri = $1", [siteDoc])
    ).rows[0]!.acl;
    expect(acl).toContain("group:finance@contoso.com");
    // Later syncs continue from the library's own delta link.
    f.graph.edit(site.driveId, siteItem, "Supplier invoices are paid within 45 days.");
    await syncAll(d.atom);
    expect(
      (await d.atom.bot.handle(dm("within how many days are supplier invoices paid?", ANA_SLACK))).text,
    ).toContain("45 days");
  });

  it("Stop syncing removes the library's documents and keeps OneDrive's", async () => {
    const reply = await d.atom.bot.handle(dm("sharepoint sites", ANA_SLACK));
    expect(reply.text).toContain("Finance — synced");
    const stop = reply.actions.find((a) => a.label === "Stop syncing Finance")!;
    await d.atom.bot.handleAction(press(stop.id, stop.value));
    await d.atom.jobs.drain({ queues: [SYNC_QUEUE], timeoutMs: 60_000 });
    expect(await hits("supplier invoices paid")).toEqual([]);
    expect((await hits("personal walrus list")).length).toBe(1);
  });
});
