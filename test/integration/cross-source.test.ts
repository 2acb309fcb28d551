import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import type { Atom } from "../../src/main.ts";
import { capturingLogger, connectDrive, dm, googleEnv } from "../helpers/google.ts";
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

  beforeAll(async () => {
    google = await FakeGoogle.start();
    driveDoc = google.addFile({
      name: "Expense policy",
      text: "Expense approval limit: a manager approves expenses up to 2000 euros per month; the expense approval limit for directors is 10000 euros.",
      permissions: [{ id: "p-o", type: "user", role: "owner", emailAddress: ANA_SLACK.userEmail! }],
    }).id;
    ms = await startMicrosoftFakes();
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
    const config = loadConfig({ ...googleEnv(google, dir), ...microsoftEnv(ms), LOG_LEVEL: "debug" });
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
});
