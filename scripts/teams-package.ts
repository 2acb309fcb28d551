/**
 * `npm run teams:package`: builds the Teams app package (the zip uploaded in Teams → Apps →
 * Manage your apps → Upload an app) from `manifests/teams/`: `manifest.json` with the bot's app id
 * and public URL filled in, `color.png` (192×192) and `outline.png` (32×32).
 * Settings (environment): `MICROSOFT_APP_ID` (the bot's Entra app id, a GUID) and `PUBLIC_URL`
 * (the https address Teams reaches Atom at). Output: `dist/teams/atom-teams.zip`, or `--out <file>`.
 * Package format: https://learn.microsoft.com/microsoftteams/platform/concepts/build-and-test/apps-package
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import JSZip from "jszip";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Folder holding the manifest template and icons. */
export const MANIFEST_DIR = path.join(ROOT, "manifests", "teams");

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads width and height from a PNG's IHDR chunk; throws when the bytes are not a PNG. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  const sig = "89504e470d0a1a0a";
  if (
    bytes.length < 24 ||
    bytes.subarray(0, 8).toString("hex") !== sig ||
    bytes.subarray(12, 16).toString("ascii") !== "IHDR"
  ) {
    throw new Error("not a PNG file");
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/**
 * Fills the manifest template and checks the result.
 * @throws Error naming the bad setting when the app id is not a GUID or the public URL is not https.
 */
export function renderManifest(
  template: string,
  opts: { appId: string; publicUrl: string },
): Record<string, unknown> {
  if (!GUID.test(opts.appId))
    throw new Error("MICROSOFT_APP_ID must be the bot's Microsoft Entra app id (a GUID)");
  let url: URL;
  try {
    url = new URL(opts.publicUrl);
  } catch {
    throw new Error("PUBLIC_URL must be a URL such as https://atom.example.com");
  }
  if (url.protocol !== "https:")
    throw new Error("PUBLIC_URL must use https (Teams only talks to https endpoints)");
  const base = url.origin;
  const filled = template
    .replaceAll("{{MICROSOFT_APP_ID}}", opts.appId.toLowerCase())
    .replaceAll("{{PUBLIC_URL}}", base)
    .replaceAll("{{PUBLIC_HOST}}", url.host);
  const manifest = JSON.parse(filled) as Record<string, unknown>;
  const left = /\{\{[A-Z_]+\}\}/.exec(filled);
  if (left) throw new Error(`manifest.json still contains the placeholder ${left[0]}`);
  return manifest;
}

/**
 * Builds the package zip (manifest.json, color.png, outline.png at the zip root).
 * @returns the zip bytes.
 * @throws Error when a setting or an icon is invalid.
 */
export async function buildTeamsPackage(opts: {
  appId: string;
  publicUrl: string;
  dir?: string;
}): Promise<Buffer> {
  const dir = opts.dir ?? MANIFEST_DIR;
  const manifest = renderManifest(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"), opts);
  const icons = manifest.icons as { color: string; outline: string };
  const color = fs.readFileSync(path.join(dir, icons.color));
  const outline = fs.readFileSync(path.join(dir, icons.outline));
  const cs = pngSize(color);
  const os = pngSize(outline);
  if (cs.width !== 192 || cs.height !== 192)
    throw new Error(`${icons.color} must be 192x192 pixels (is ${cs.width}x${cs.height})`);
  if (os.width !== 32 || os.height !== 32)
    throw new Error(`${icons.outline} must be 32x32 pixels (is ${os.width}x${os.height})`);
  const zip = new JSZip();
  const fixed = new Date("2024-01-01T00:00:00Z");
  zip.file("manifest.json", `${JSON.stringify(manifest, null, 2)}\n`, { date: fixed });
  zip.file(icons.color, color, { date: fixed });
  zip.file(icons.outline, outline, { date: fixed });
  return zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf("--out");
  const out = path.resolve(
    args[outIdx + 1] !== undefined && outIdx >= 0
      ? args[outIdx + 1]!
      : path.join(ROOT, "dist", "teams", "atom-teams.zip"),
  );
  const appId = process.env.MICROSOFT_APP_ID ?? "";
  const publicUrl = process.env.PUBLIC_URL ?? "";
  if (!appId || !publicUrl) {
    throw new Error(
      "set MICROSOFT_APP_ID and PUBLIC_URL, e.g. MICROSOFT_APP_ID=<guid> PUBLIC_URL=https://atom.example.com npm run teams:package",
    );
  }
  const zip = await buildTeamsPackage({ appId, publicUrl });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, zip);
  console.log(
    `Teams app package written to ${out} (${zip.length} bytes). Upload it in Teams: Apps → Manage your apps → Upload an app.`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    console.error(`teams:package: ${err.message}`);
    process.exit(1);
  });
}
