import { describe, expect, it } from "vitest";
import {
  checkTenancy,
  createTeamsTenantResolver,
  REFUSAL_TEXT,
  teamsTenancy,
} from "../../src/adapters/teams/tenants.ts";
import { ConfigError, loadConfig } from "../../src/config.ts";

const HOME = "72f988bf-0000-4000-8000-000000000001";
const PARTNER = "11111111-0000-4000-8000-0000000000aa";
const STRANGER = "99999999-0000-4000-8000-0000000000ff";
const APP = { MICROSOFT_APP_ID: "00000000-1111-2222-3333-444444444444", MICROSOFT_APP_PASSWORD: "pw" };

const resolverFor = (env: Record<string, string>) => createTeamsTenantResolver(teamsTenancy(loadConfig(env)));

describe("Teams tenancy settings", () => {
  it("defaults to a SingleTenant app that refuses other organisations", () => {
    const c = loadConfig({});
    expect(c.env.MICROSOFT_APP_TYPE).toBe("SingleTenant");
    expect(c.env.ATOM_TEAMS_OTHER_TENANTS).toBe("refuse");
    expect(c.env.ATOM_TEAMS_TENANTS).toBeUndefined();
  });

  it("parses the allow-list (trimmed, lower-case) and rejects what is not a tenant id", () => {
    const c = loadConfig({ ATOM_TEAMS_TENANTS: ` ${PARTNER.toUpperCase()} ,, ${HOME} ` });
    expect(c.env.ATOM_TEAMS_TENANTS).toEqual([PARTNER, HOME]);
    expect(() => loadConfig({ ATOM_TEAMS_TENANTS: "contoso.com" })).toThrow(ConfigError);
    expect(() => loadConfig({ ATOM_TEAMS_TENANTS: "contoso.com" })).toThrow(
      /ATOM_TEAMS_TENANTS: must be a comma-separated list of Entra tenant ids/,
    );
    expect(() => loadConfig({ ATOM_TEAMS_OTHER_TENANTS: "allow" })).toThrow(
      /ATOM_TEAMS_OTHER_TENANTS: must be refuse or separate/,
    );
    expect(() => loadConfig({ MICROSOFT_APP_TENANT_ID: "contoso.onmicrosoft.com" })).toThrow(
      /MICROSOFT_APP_TENANT_ID: must be the Directory \(tenant\) id/,
    );
  });
});

describe("Teams tenant resolver", () => {
  it("maps the bot's own tenant and the allow-list to the default tenant, and refuses everyone else", () => {
    const r = resolverFor({ ...APP, MICROSOFT_APP_TENANT_ID: HOME, ATOM_TEAMS_TENANTS: PARTNER });
    expect(r.resolve(HOME)).toBe("default");
    expect(r.resolve(PARTNER.toUpperCase())).toBe("default");
    expect(r.resolve(STRANGER)).toBeUndefined();
    // Missing or malformed tenant ids are refused too.
    expect(r.resolve(undefined)).toBeUndefined();
    expect(r.resolve("")).toBeUndefined();
    expect(r.resolve("default")).toBeUndefined();
  });

  it("opened to other organisations, makes each its own tenant — never the default one", () => {
    const r = resolverFor({
      ...APP,
      MICROSOFT_APP_TYPE: "MultiTenant",
      MICROSOFT_APP_TENANT_ID: HOME,
      ATOM_TEAMS_OTHER_TENANTS: "separate",
    });
    expect(r.resolve(HOME)).toBe("default");
    expect(r.resolve(STRANGER)).toBe(`teams:${STRANGER}`);
    expect(r.resolve(STRANGER.toUpperCase())).toBe(`teams:${STRANGER}`);
    expect(r.resolve(undefined)).toBeUndefined();
    expect(r.resolve("../default")).toBeUndefined();
  });

  it("in local mode with no tenant settings, takes everything (the emulator sends no tenant) as default", () => {
    const local = resolverFor({});
    expect(local.resolve(undefined)).toBe("default");
    expect(local.resolve(STRANGER)).toBe("default");
    // As soon as a tenant is configured, the rules apply in local mode too.
    const configured = resolverFor({ ATOM_TEAMS_TENANTS: HOME });
    expect(configured.resolve(HOME)).toBe("default");
    expect(configured.resolve(STRANGER)).toBeUndefined();
    expect(configured.resolve(undefined)).toBeUndefined();
  });

  it("refuses settings that cannot work, naming what to set", () => {
    const check = (env: Record<string, string>) => {
      const config = loadConfig(env);
      checkTenancy(config, teamsTenancy(config));
    };
    expect(() => check(APP)).toThrow(
      /MICROSOFT_APP_TENANT_ID is required when MICROSOFT_APP_TYPE is SingleTenant/,
    );
    expect(() => check({ ...APP, MICROSOFT_APP_TYPE: "MultiTenant" })).toThrow(
      /would refuse every organisation: set MICROSOFT_APP_TENANT_ID or ATOM_TEAMS_TENANTS/,
    );
    expect(() =>
      check({ ...APP, MICROSOFT_APP_TYPE: "MultiTenant", ATOM_TEAMS_TENANTS: PARTNER }),
    ).not.toThrow();
    expect(() =>
      check({ ...APP, MICROSOFT_APP_TYPE: "MultiTenant", ATOM_TEAMS_OTHER_TENANTS: "separate" }),
    ).not.toThrow();
    expect(() => check({ ...APP, MICROSOFT_APP_TENANT_ID: HOME })).not.toThrow();
    expect(() => check({})).not.toThrow();
  });

  it("has a refusal that says what happened without naming any data", () => {
    expect(REFUSAL_TEXT).toMatch(/isn't available to your organisation/);
  });
});
