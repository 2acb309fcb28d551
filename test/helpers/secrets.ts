/**
 * Every fake credential the tests and the fakes use, in one place, and the shapes of real ones.
 *
 * The fakes (test/integration/fakes) and the tests import their tokens, keys, client secrets and
 * signing secrets from here, so the secret check of the whole test run (scripts/secret-scan.ts,
 * run by .ci/run over the run's output and every log file the tests wrote) knows each of them.
 * Values are random-looking on purpose: a value that also occurs in ordinary text could never be
 * checked. A secret made at run time (a fake's issued token) must match one of
 * {@link SECRET_SHAPES} instead.
 */

/** Fake credentials by name (never real; each at least 12 characters and unlike ordinary text). */
export const TEST_SECRETS = {
  /** Slack app signing secret (`SLACK_SIGNING_SECRET`; signs event deliveries). */
  slackSigningSecret: "8f742231b10e8888abcd99yyyzzz85a5",
  /** Slack OAuth client secret the fake Slack accepts. */
  slackClientSecret: "fake-slack-client-secret-5c1f9e",
  /** Slack state secret (`SLACK_STATE_SECRET`). */
  slackStateSecret: "state-secret-7d3a91b2c4e5",
  /** Slack's legacy verification token (sent inside payloads). */
  slackVerificationToken: "legacy-verification-token",
  /** Google OAuth client secret the fake Google accepts. */
  googleClientSecret: "GOCSPX-fake-client-secret-4242",
  /** Entra app secret of the OneDrive connection the fake identity platform accepts. */
  graphClientSecret: "graph-app-secret-42-9b7e1d",
  /** Teams bot app password (`MICROSOFT_APP_PASSWORD`) the fake identity platform accepts. */
  teamsAppPassword: "teams-app-password-e2e-6a0c",
  /** A workspace OpenAI key (BYOK). */
  openaiKey: "sk-proj-OPENAIKEYOPENAIKEY1234",
  /** An Anthropic key. */
  anthropicKey: "sk-ant-api03-fakeANTHROPICkey-7788",
  /** A Deepgram key the fake accepts. */
  deepgramKey: "dg-fake-deepgram-key-00000000ok42",
  /** A master key (`ATOM_MASTER_KEY`, 32 bytes hex). */
  masterKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
} as const;

/**
 * Shapes of credentials that must never appear in output (tokens issued by the fakes at run time,
 * real keys pasted by people): Slack tokens, OpenAI / Anthropic keys, bearer headers, JWTs, Google
 * tokens and client secrets, and the values of signed-link / token parameters. Redacted forms
 * (`xoxb…[redacted]`, `link=[redacted]`, `Bearer [redacted]`) do not match.
 */
export const SECRET_SHAPES: { name: string; re: RegExp }[] = [
  { name: "Slack token", re: /xox[abposre]-[0-9A-Za-z][0-9A-Za-z-]{3,}/ },
  { name: "Slack app token", re: /xapp-[0-9A-Za-z][0-9A-Za-z-]{3,}/ },
  { name: "Anthropic key", re: /sk-ant-[A-Za-z0-9_-]{8,}/ },
  { name: "OpenAI-style key", re: /\bsk-[A-Za-z0-9_-]{16,}/ },
  { name: "bearer token", re: /Bearer\s+[A-Za-z0-9._~+/-]{12,}=*/ },
  { name: "JSON Web Token", re: /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { name: "Google access token", re: /ya29\.[A-Za-z0-9._-]{8,}/ },
  { name: "Google client secret", re: /GOCSPX-[A-Za-z0-9_-]{8,}/ },
  {
    name: "signed link or token parameter",
    re: /[?&;](?:link|sig|signature|access_token|refresh_token)=(?!\[redacted\])[A-Za-z0-9._~%-]{12,}/,
  },
];

/** Every fixed fake secret (the values of {@link TEST_SECRETS}). */
export function knownSecrets(): string[] {
  return Object.values(TEST_SECRETS);
}
