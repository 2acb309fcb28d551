import { describe, expect, it } from "vitest";
import { principalsFor, userPrincipal } from "../../src/security/permissions.ts";

const base = {
  platform: "slack" as const,
  userId: "U123",
  userEmail: "Ana@X.com",
  isDirect: false,
  visibility: "thread" as const,
};

describe("principalsFor", () => {
  it("uses only documents everyone may see in a public channel", () => {
    expect(principalsFor(base)).toEqual(["anyone"]);
    expect(principalsFor({ ...base, userGroups: ["group:eng"] })).toEqual(["anyone"]);
  });

  it("adds the asker's identity, e-mail, domain and groups in a DM", () => {
    expect(principalsFor({ ...base, isDirect: true, userGroups: ["Group:Eng"] })).toEqual([
      "anyone",
      "user:slack:u123",
      "user:ana@x.com",
      "domain:x.com",
      "group:eng",
    ]);
  });

  it("uses the asker's access for an ephemeral reply in a channel", () => {
    expect(principalsFor({ ...base, visibility: "ephemeral" })).toContain("user:ana@x.com");
  });

  it("works without an e-mail and never duplicates principals", () => {
    const p = principalsFor({ ...base, userEmail: undefined, isDirect: true, userGroups: ["anyone"] });
    expect(p).toEqual(["anyone", "user:slack:u123"]);
  });

  it("lower-cases platform user principals", () => {
    expect(userPrincipal("teams", "29:AbC")).toBe("user:teams:29:abc");
  });
});
