import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SLACK_BOT_SCOPES } from "../../src/adapters/slack/install.ts";

const manifest = fs.readFileSync(
  path.resolve(import.meta.dirname, "../../manifests/slack/manifest.yaml"),
  "utf8",
);

/** Items of the YAML list under `key:` (indented `- item` lines right after it). */
function listUnder(key: string): string[] {
  const lines = manifest.split("\n");
  const start = lines.findIndex((l) => l.trim() === `${key}:`);
  expect(start, `${key} in manifest`).toBeGreaterThanOrEqual(0);
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^\s+-\s+(\S+)\s*$/.exec(l);
    if (!m) break;
    out.push(m[1] as string);
  }
  return out;
}

describe("manifests/slack/manifest.yaml", () => {
  it("asks for exactly the bot scopes the OAuth install requests, incl. the required ones", () => {
    const scopes = listUnder("bot");
    expect(scopes.sort()).toEqual([...SLACK_BOT_SCOPES].sort());
    for (const s of [
      "app_mentions:read",
      "chat:write",
      "im:history",
      "commands",
      "files:read",
      "users:read",
      "users:read.email",
      "reactions:write",
    ]) {
      expect(scopes).toContain(s);
    }
  });

  it("subscribes to mentions, DMs, thread messages and uninstall events on one Request URL", () => {
    expect(listUnder("bot_events")).toEqual([
      "app_mention",
      "message.channels",
      "message.groups",
      "message.im",
      "app_uninstalled",
      "tokens_revoked",
    ]);
    const urls = [...manifest.matchAll(/(?:url|request_url): (\S+)/g)].map((m) => m[1]);
    expect(new Set(urls)).toEqual(new Set(["https://atom.example.com/slack/events"]));
    expect(manifest).toContain("command: /atom");
    expect(manifest).toMatch(/interactivity:\n\s+is_enabled: true/);
    expect(listUnder("redirect_urls")).toEqual(["https://atom.example.com/slack/oauth_redirect"]);
  });
});
