import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { Atom } from "../../src/main.ts";
import { principalsFor } from "../../src/security/permissions.ts";
import { capturingLogger, channelMessage, connectDrive, dm, googleEnv } from "../helpers/google.ts";
import {
  ANA_MS,
  ANA_SLACK,
  connectOneDrive,
  type MicrosoftFakes,
  microsoftEnv,
  perm,
  startMicrosoftFakes,
} from "../helpers/onedrive.ts";
import { FakeGoogle } from "./fakes/google.ts";

/**
 * One search across Google Drive and OneDrive: one ranked list, scores comparable across sources
 * (a source does not win by being bigger), `in:` filters, citations naming their source.
 */
describe("search across Google Drive and OneDrive", () => {
  let google: FakeGoogle;
  let ms: MicrosoftFakes;
  let atom: Atom;
  let dir: string;
  let driveDoc: string;
  let oneDriveUrl: string;
  const matrix: Record<string, string> = {};

  beforeAll(async () => {
    google = await FakeGoogle.start();
    driveDoc = google.addFile({
      name: "Expense policy",
      text: "Expense approval limit: a manager approves expenses up to 2000 euros per month; the expense approval limit for directors is 10000 euros.",
      permissions: [{ id: "p-o", type: "user", role: "owner", emailAddress: ANA_SLACK.userEmail! }],
    }).id;
    const owner = { id: "p-o", type: "user" as const, role: "owner", emailAddress: ANA_SLACK.userEmail! };
    matrix.drivePrivate = google.addFile({
      name: "Drive private",
      text: "The aardvark bonus pool is private.",
      permissions: [owner],
    }).id;
    matrix.driveOrg = google.addFile({
      name: "Drive org",
      text: "The aardvark holiday calendar is for the organisation.",
      permissions: [owner, { id: "p-d", type: "domain", domain: "contoso.com", allowFileDiscovery: true }],
    }).id;
    matrix.driveLink = google.addFile({
      name: "Drive link",
      text: "The aardvark launch memo is shared by link.",
      permissions: [owner, { id: "p-a", type: "anyone", allowFileDiscovery: false }],
    }).id;
    ms = await startMicrosoftFakes();
    const owned = [perm.owner(ANA_MS.upn)];
    matrix.onePrivate = ms.graph.put(ms.drive, {
      name: "One private.txt",
      text: "The aardvark salary sheet is private.",
      permissions: owned,
    }).webUrl;
    matrix.oneOrg = ms.graph.put(ms.drive, {
      name: "One org.txt",
      text: "The aardvark office map is for the organisation.",
      permissions: [...owned, perm.org()],
    }).webUrl;
    matrix.oneLink = ms.graph.put(ms.drive, {
      name: "One link.txt",
      text: "The aardvark pricing draft is shared by an anonymous link.",
      permissions: [...owned, perm.anonymous()],
    }).webUrl;
    oneDriveUrl = ms.graph.put(ms.drive, {
      name: "Team leads.txt",
      text: "Team leads follow the expense approval limit of their manager.",
      permissions: [perm.owner(ANA_MS.upn)],
    }).webUrl;
    // OneDrive is the bigger source: many documents about other things.
    for (let i = 0; i < 40; i++) {
      ms.graph.put(ms.drive, {
        name: `Minutes ${i}.txt`,
        text: `Meeting minutes ${i}: the team discussed the roadmap, hiring and the offsite agenda item ${i}.`,
        permissions: [perm.owner(ANA_MS.upn)],
      });
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-cross-"));
    const config = loadConfig({
      ...googleEnv(google, dir),
      ...microsoftEnv(ms),
      LOG_LEVEL: "debug",
      ATOM_ORG_DOMAINS: "contoso.com",
    });
    const { createAtom } = await import("../../src/main.ts");
    atom = await createAtom(config, {
      logger: capturingLogger(),
      adapters: false,
      microsoft: { ca: ms.login.ca },
    });
    atom.messengers.set("slack", { platform: "slack", send: async () => ({ messageId: "1" }) });
    atom.jobs.start();
    await connectDrive({ atom, dir, sent: [], close: async () => {} }, google, ANA_SLACK);
    await connectOneDrive(atom, ms, ANA_SLACK);
  }, 240_000);

  afterAll(async () => {
    await atom?.close();
    await google?.close();
    await ms?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("best passage in Drive, second in OneDrive → one answer citing both, best first, each naming its source", async () => {
    const reply = await atom.bot.handle(dm("what is the expense approval limit for a manager?", ANA_SLACK));
    const uris = reply.citations.map((c) => c.uri);
    const drive = uris.findIndex((u) => u.includes(driveDoc));
    const one = uris.indexOf(oneDriveUrl);
    expect(drive, JSON.stringify(uris)).toBe(0);
    expect(one, JSON.stringify(uris)).toBeGreaterThan(0);
    expect(reply.text).toContain("2000 euros");
    expect(reply.citations[drive]!.source).toMatch(/^gdrive:/);
    expect(reply.citations[one]!.source).toMatch(/^onedrive:/);
    expect(reply.text).toContain("Expense policy · Google Drive");
    expect(reply.text).toContain("Team leads.txt · OneDrive");
  });

  it("`in:onedrive` returns only OneDrive documents; `in:drive` only Drive ones", async () => {
    const one = await atom.bot.handle(dm("find docs about expense approval limit in:onedrive", ANA_SLACK));
    expect(one.citations.length).toBeGreaterThan(0);
    expect(one.citations.every((c) => c.source?.startsWith("onedrive:"))).toBe(true);
    const drive = await atom.bot.handle(dm("find docs about expense approval limit in:drive", ANA_SLACK));
    expect(drive.citations.length).toBeGreaterThan(0);
    expect(drive.citations.every((c) => c.source?.startsWith("gdrive:"))).toBe(true);
  });

  it("permission matrix across both sources: private / organisation / link-only in a DM, a public channel, an external channel", async () => {
    const uris = async (m: ReturnType<typeof dm>) =>
      (
        await atom.memory.search("aardvark", {
          tenantId: "default",
          principals: principalsFor(m, ["contoso.com"]),
          limit: 20,
        })
      ).hits.map((h) => h.doc.uri);
    const has = (list: string[], key: string) => list.some((u) => u.includes(matrix[key]!));
    const inDm = await uris(dm("q", ANA_SLACK));
    const pub = await uris(channelMessage("q"));
    const ext = await uris(channelMessage("q", { externallyShared: true }));
    for (const k of ["drivePrivate", "driveOrg", "driveLink", "onePrivate", "oneOrg", "oneLink"])
      expect(has(inDm, k), `DM sees ${k}`).toBe(true);
    expect(
      ["drivePrivate", "driveOrg", "driveLink", "onePrivate", "oneOrg", "oneLink"].filter((k) => has(pub, k)),
    ).toEqual(["driveOrg", "oneOrg"]);
    expect(
      ["drivePrivate", "driveOrg", "driveLink", "onePrivate", "oneOrg", "oneLink"].filter((k) => has(ext, k)),
    ).toEqual([]);
  });
});
