import { describe, expect, it } from "vitest";
import { AdaptiveLimit } from "../../src/memory/sources/onedrive/api.ts";
import { aclFromGraphPermissions } from "../../src/memory/sources/onedrive/acl.ts";

describe("Graph permissions → ACL", () => {
  it("users and groups by e-mail (grantedToV2, grantedToIdentitiesV2, legacy grantedTo, SharePoint login names)", () => {
    const { acl } = aclFromGraphPermissions(
      [
        { roles: ["owner"], grantedToV2: { user: { email: "Ana@Contoso.com" } } },
        {
          roles: ["read"],
          grantedToIdentitiesV2: [
            { user: { email: "bob@contoso.com" } },
            { group: { email: "eng@contoso.com" } },
          ],
        },
        { roles: ["write"], grantedTo: { user: { email: "carol@contoso.com" } } },
        { roles: ["read"], grantedToV2: { siteUser: { loginName: "i:0#.f|membership|dave@contoso.com" } } },
      ],
      "contoso.com",
    );
    expect(acl).toEqual([
      "group:eng@contoso.com",
      "user:ana@contoso.com",
      "user:bob@contoso.com",
      "user:carol@contoso.com",
      "user:dave@contoso.com",
    ]);
  });

  it("organisation link → the tenant's domain; anonymous link → nobody; a users link → its people", () => {
    expect(
      aclFromGraphPermissions([{ link: { scope: "organization", type: "view" } }], "Contoso.com").acl,
    ).toEqual(["domain:contoso.com"]);
    expect(
      aclFromGraphPermissions([{ link: { scope: "anonymous", type: "view" } }], "contoso.com").acl,
    ).toEqual([]);
    expect(
      aclFromGraphPermissions(
        [
          {
            link: { scope: "users", type: "edit" },
            grantedToIdentitiesV2: [{ user: { email: "erin@fabrikam.com" } }],
          },
        ],
        "contoso.com",
      ).acl,
    ).toEqual(["user:erin@fabrikam.com"]);
  });

  it("what cannot be matched is noted, never widened", () => {
    const r = aclFromGraphPermissions(
      [
        { link: { scope: "organization" } },
        { grantedToV2: { user: { displayName: "No Mail" } } },
        { grantedToV2: { siteGroup: { displayName: "Site Members" } } },
      ],
      undefined,
    );
    expect(r.acl).toEqual([]);
    expect(r.notes).toHaveLength(3);
  });
});

describe("AdaptiveLimit", () => {
  it("halves on throttling down to 1, grows back by one after a run of successes", async () => {
    const l = new AdaptiveLimit(8, 3);
    l.throttled();
    l.throttled();
    expect(l.limit).toBe(2);
    for (let i = 0; i < 6; i++) l.succeeded();
    expect(l.limit).toBe(4);
    for (let i = 0; i < 5; i++) l.throttled();
    expect(l.limit).toBe(1);
    expect(l.lowest).toBe(1);
  });

  it("never lets more than `limit` run at once", async () => {
    const l = new AdaptiveLimit(2);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        await l.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        l.release();
      }),
    );
    expect(peak).toBe(2);
  });
});
