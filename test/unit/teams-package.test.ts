import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import JSZip from "jszip";
import { describe, expect, it } from "vitest";
import { buildTeamsPackage, MANIFEST_DIR, pngSize, renderManifest } from "../../scripts/teams-package.ts";

const APP_ID = "11111111-2222-3333-4444-555555555555";

/** Decodes an 8-bit RGBA, non-interlaced PNG (the format of Atom's icons) into pixels. */
function decodeRgba(png: Buffer): { width: number; height: number; px: Buffer } {
  const { width, height } = pngSize(png);
  const idat: Buffer[] = [];
  for (let off = 8; off < png.length; ) {
    const len = png.readUInt32BE(off);
    const type = png.subarray(off + 4, off + 8).toString("ascii");
    if (type === "IDAT") idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  expect(png[24]).toBe(8);
  expect(png[25]).toBe(6);
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 4 + 1)]).toBe(0);
    raw.copy(px, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  }
  return { width, height, px };
}

describe("Teams app package", () => {
  it("builds a zip with the filled manifest (current schema, commands) and valid icons", async () => {
    const zip = await JSZip.loadAsync(
      await buildTeamsPackage({ appId: APP_ID, publicUrl: "https://atom.example.com/base" }),
    );
    expect(Object.keys(zip.files).sort()).toEqual(["color.png", "manifest.json", "outline.png"]);
    const manifest = JSON.parse(await zip.file("manifest.json")!.async("string"));
    expect(manifest.manifestVersion).toBe("1.22");
    expect(manifest.$schema).toBe(
      "https://developer.microsoft.com/json-schemas/teams/v1.22/MicrosoftTeams.schema.json",
    );
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots[0].botId).toBe(APP_ID);
    expect(manifest.bots[0].scopes).toEqual(["personal", "team", "groupChat"]);
    expect(manifest.validDomains).toEqual(["atom.example.com"]);
    expect(manifest.developer.privacyUrl).toBe("https://atom.example.com/privacy");
    const commands = manifest.bots[0].commandLists[0].commands as Array<{
      title: string;
      description: string;
    }>;
    expect(commands.map((c) => c.title)).toEqual(expect.arrayContaining(["help", "status"]));
    for (const c of commands) {
      expect(c.title.length).toBeLessThanOrEqual(32);
      expect(c.description.length).toBeLessThanOrEqual(128);
    }
    expect(manifest.name.short.length).toBeLessThanOrEqual(30);
    expect(manifest.description.short.length).toBeLessThanOrEqual(80);
    expect(manifest.description.full.length).toBeLessThanOrEqual(4000);

    const color = decodeRgba(await zip.file("color.png")!.async("nodebuffer"));
    expect([color.width, color.height]).toEqual([192, 192]);
    const outline = decodeRgba(await zip.file("outline.png")!.async("nodebuffer"));
    expect([outline.width, outline.height]).toEqual([32, 32]);
    // Outline icon: only white (any alpha) or fully transparent pixels, and some of each.
    let opaque = 0;
    let clear = 0;
    for (let i = 0; i < outline.px.length; i += 4) {
      const [r, g, b, a] = [outline.px[i], outline.px[i + 1], outline.px[i + 2], outline.px[i + 3]];
      if (a === 0) clear++;
      else {
        opaque++;
        expect([r, g, b]).toEqual([255, 255, 255]);
      }
    }
    expect(opaque).toBeGreaterThan(50);
    expect(clear).toBeGreaterThan(300);
  });

  it("rejects a non-GUID app id, a non-https URL and wrong icon sizes", async () => {
    const template = fs.readFileSync(path.join(MANIFEST_DIR, "manifest.json"), "utf8");
    expect(() => renderManifest(template, { appId: "my-bot", publicUrl: "https://a.example" })).toThrow(
      /MICROSOFT_APP_ID/,
    );
    expect(() => renderManifest(template, { appId: APP_ID, publicUrl: "http://a.example" })).toThrow(/https/);
    expect(() => renderManifest(template, { appId: APP_ID, publicUrl: "not a url" })).toThrow(/PUBLIC_URL/);
    expect(() => pngSize(Buffer.from("GIF89a-not-a-png-at-all-xx"))).toThrow(/not a PNG/);
    const dir = fs.mkdtempSync(path.join((await import("node:os")).tmpdir(), "atom-teams-pkg-"));
    try {
      fs.copyFileSync(path.join(MANIFEST_DIR, "manifest.json"), path.join(dir, "manifest.json"));
      fs.copyFileSync(path.join(MANIFEST_DIR, "outline.png"), path.join(dir, "color.png"));
      fs.copyFileSync(path.join(MANIFEST_DIR, "outline.png"), path.join(dir, "outline.png"));
      await expect(buildTeamsPackage({ appId: APP_ID, publicUrl: "https://a.example", dir })).rejects.toThrow(
        /192x192/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
