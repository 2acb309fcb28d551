import { describe, expect, it } from "vitest";
import { parseFilters } from "../../src/bot/filters.ts";
import { aclFromPermissions } from "../../src/memory/sources/google-drive/acl.ts";
import { retryAfterMs } from "../../src/memory/sources/google-drive/api.ts";
import { stripBom } from "../../src/memory/sources/google-drive/source.ts";
import {
  authorizeUrl,
  emailFromIdToken,
  pkceChallenge,
  createPkce,
} from "../../src/security/google-oauth.ts";
import { parseOrgDomains } from "../../src/security/org-domains.ts";
import { principalsFor } from "../../src/security/permissions.ts";

describe("Drive permissions → ACL", () => {
  it("maps users, groups, discoverable domains and public files", () => {
    const { acl, notes } = aclFromPermissions([
      { type: "user", emailAddress: "Ana@Example.com", role: "owner" },
      { type: "group", emailAddress: "eng@example.com", role: "reader" },
      { type: "domain", domain: "Example.com", allowFileDiscovery: true },
      { type: "anyone", allowFileDiscovery: true },
    ]);
    expect(acl).toEqual(["anyone", "domain:example.com", "group:eng@example.com", "user:ana@example.com"]);
    expect(notes).toEqual([]);
  });

  it("treats “anyone with the link” (allowFileDiscovery false or unset) as nobody in particular", () => {
    expect(aclFromPermissions([{ type: "anyone", allowFileDiscovery: false }]).acl).toEqual([]);
    expect(
      aclFromPermissions([{ type: "domain", domain: "example.com", allowFileDiscovery: false }]).acl,
    ).toEqual([]);
    expect(aclFromPermissions([{ type: "anyone" }]).acl).toEqual([]);
  });

  it("ignores deleted accounts and reports a permission without an e-mail", () => {
    const r = aclFromPermissions([
      { id: "p1", type: "user", role: "reader" },
      { type: "user", emailAddress: "gone@example.com", deleted: true },
      { type: "domain" },
    ]);
    expect(r.acl).toEqual([]);
    expect(r.notes).toEqual([
      "a user permission (p1) has no e-mail; ignored",
      "a domain permission has no domain; ignored",
    ]);
  });
});

describe("Retry-After", () => {
  it("reads delta-seconds and HTTP dates, and nothing else", () => {
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs(" 0.5 ")).toBe(500);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs("Thu, 01 Jan 2026 00:00:07 GMT", now)).toBe(7000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe("question filters", () => {
  const now = Date.parse("2026-03-10T12:00:00Z");
  it("takes in: and since: out of the text", () => {
    expect(parseFilters("budget for the offsite in:drive since:7d?", now)).toEqual({
      text: "budget for the offsite",
      kinds: ["gdrive"],
      since: now - 7 * 86_400_000,
    });
    expect(parseFilters("IN:Folder onboarding in:notes", now)).toEqual({
      text: "onboarding",
      kinds: ["folder", "notes"],
    });
    expect(parseFilters("since:2w travel", now).since).toBe(now - 14 * 86_400_000);
    expect(parseFilters("since:12h travel", now).since).toBe(now - 12 * 3_600_000);
  });

  it("leaves unknown filters and malformed values as words", () => {
    expect(parseFilters("what is in:space since:later", now)).toEqual({
      text: "what is in:space since:later",
    });
  });
});

describe("Google OAuth", () => {
  it("builds the S256 challenge of RFC 7636's example verifier", () => {
    expect(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
    const p = createPkce();
    expect(p.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.challenge).toBe(pkceChallenge(p.verifier));
  });

  it("asks for offline access, consent, read-only Drive and e-mail, with PKCE", () => {
    const url = new URL(
      authorizeUrl(
        {
          clientId: "cid",
          clientSecret: "secret",
          authorizeUrl: "https://accounts.example/auth",
          tokenUrl: "https://accounts.example/token",
          redirectUri: "https://atom.example/connect/google/callback",
        },
        { state: "st", codeChallenge: "ch", loginHint: "ana@example.com" },
      ),
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "cid",
      redirect_uri: "https://atom.example/connect/google/callback",
      scope: "openid email https://www.googleapis.com/auth/drive.readonly",
      state: "st",
      code_challenge: "ch",
      code_challenge_method: "S256",
      access_type: "offline",
      prompt: "consent",
      include_granted_scopes: "true",
      login_hint: "ana@example.com",
    });
    expect(url.toString()).not.toContain("secret");
  });

  it("reads the e-mail of an ID token only when it is meant for this client", () => {
    const token = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.s`;
    expect(emailFromIdToken(token({ aud: "cid", email: "Ana@Example.com" }), "cid")).toBe("ana@example.com");
    expect(emailFromIdToken(token({ aud: "other", email: "ana@example.com" }), "cid")).toBeUndefined();
    expect(emailFromIdToken("garbage", "cid")).toBeUndefined();
  });
});

describe("public-channel rule", () => {
  const channel = {
    platform: "slack" as const,
    userId: "U1",
    isDirect: false,
    visibility: "thread" as const,
  };
  it("adds the organisation's domains in a channel, not in one shared with other organisations", () => {
    expect(principalsFor(channel, ["example.com"])).toEqual(["anyone", "domain:example.com"]);
    expect(principalsFor({ ...channel, isExternallyShared: true }, ["example.com"])).toEqual(["anyone"]);
  });

  it("parses ATOM_ORG_DOMAINS", () => {
    expect(parseOrgDomains(" Example.com, @example.org,, not a domain ")).toEqual([
      "example.com",
      "example.org",
    ]);
    expect(parseOrgDomains(undefined)).toEqual([]);
  });
});

describe("exports", () => {
  it("strips a UTF-8 byte order mark and nothing else", () => {
    expect(stripBom(Buffer.from([0xef, 0xbb, 0xbf, 0x41])).toString()).toBe("A");
    expect(stripBom(Buffer.from("AB")).toString()).toBe("AB");
  });
});

describe("log scrubbing", () => {
  it("removes Google access tokens, refresh tokens and client secrets from text", async () => {
    const { scrubSecrets } = await import("../../src/observability/logger.ts");
    const out = scrubSecrets(
      "at ya29.a0AfB_byC1234567890abcdef, refresh 1//0gAbCdEfGhIjKlMn-op and GOCSPX-abcdefghijkl123",
    );
    expect(out).not.toMatch(/a0AfB_byC1234567890abcdef|0gAbCdEfGhIjKlMn|abcdefghijkl123/);
  });
});
