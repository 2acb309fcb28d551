import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchTrusting } from "../../src/memory/sources/onedrive/api.ts";
import { GRAPH_APP, type MicrosoftFakes, startMicrosoftFakes } from "../helpers/onedrive.ts";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * The documented production route for a private or self-signed certificate: NODE_EXTRA_CA_CERTS,
 * with no CA option anywhere in Atom. A separate Node process signs in with MSAL (authority
 * metadata over https) and calls Graph through Atom's Graph client with the global fetch.
 */
describe("OneDrive with NODE_EXTRA_CA_CERTS (no CA option in Atom)", () => {
  let ms: MicrosoftFakes;
  let dir: string;

  beforeAll(async () => {
    ms = await startMicrosoftFakes();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-ca-"));
    fs.writeFileSync(path.join(dir, "ca.pem"), ms.login.ca);
  }, 60_000);

  afterAll(async () => {
    await ms?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("MSAL builds the sign-in URL and Graph answers /me with the certificate trusted only through the environment", async () => {
    const script = `
      import { microsoftAuthorizeUrl } from "${ROOT}/src/security/microsoft-oauth.ts";
      import { GraphApi } from "${ROOT}/src/memory/sources/onedrive/api.ts";
      const client = { clientId: process.env.CID, clientSecret: process.env.CSECRET, tenant: "common",
        loginUrl: process.env.LOGIN, redirectUri: "https://atom.test.example/connect/microsoft/callback" };
      const url = await microsoftAuthorizeUrl(client, { state: "s1", codeChallenge: "x".repeat(43) });
      const api = new GraphApi({ apiUrl: process.env.GRAPH, tokens: { get: async () => process.env.TOKEN, refreshAfter: async () => process.env.TOKEN }, retry: { attempts: 1 } });
      let me;
      try { me = await api.call("me", (c) => c.api("/me").get()); } catch (e) { me = { error: String(e.message) }; }
      console.log(JSON.stringify({ url, me }));
    `;
    const file = path.join(dir, "check.mts");
    fs.writeFileSync(file, script);
    try {
      // A real delegated token from the fake authority's code grant.
      const { stdout } = await run(process.execPath, ["--import", "tsx", file], {
        cwd: ROOT,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem"),
          CID: GRAPH_APP.clientId,
          CSECRET: GRAPH_APP.clientSecret,
          LOGIN: ms.login.url,
          GRAPH: ms.graph.url,
          TOKEN: await delegatedToken(ms),
        },
        timeout: 60_000,
      });
      const out = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
        url: string;
        me: { userPrincipalName?: string };
      };
      expect(out.url.startsWith(`${ms.login.url}/common/oauth2/v2.0/authorize?`)).toBe(true);
      expect(out.me.userPrincipalName).toBe("ana@contoso.com");
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

/** Runs the consent page and the code grant against the fake authority (PKCE) and returns the access token. */
async function delegatedToken(ms: MicrosoftFakes): Promise<string> {
  const f = fetchTrusting(ms.login.ca);
  const verifier = "v".repeat(43);
  const { createHash } = await import("node:crypto");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const redirect = "https://atom.test.example/cb";
  const auth = await f(
    `${ms.login.url}/common/oauth2/v2.0/authorize?client_id=${GRAPH_APP.clientId}&response_type=code&redirect_uri=${encodeURIComponent(redirect)}&code_challenge=${challenge}&code_challenge_method=S256&scope=Files.Read.All&state=s`,
  );
  const code = new URL(auth.headers.get("location")!).searchParams.get("code")!;
  const tok = await f(`${ms.login.url}/common/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: GRAPH_APP.clientId,
      client_secret: GRAPH_APP.clientSecret,
      code,
      redirect_uri: redirect,
      code_verifier: verifier,
    }).toString(),
  });
  return ((await tok.json()) as { access_token: string }).access_token;
}
