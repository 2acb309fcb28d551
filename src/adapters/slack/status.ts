import { DEFAULT_TENANT } from "../../config.ts";
import type { ReadinessCheck } from "../../server/app.ts";
import type { SlackCredentials } from "./credentials.ts";
import type { AuthCheck } from "./identity.ts";

/** How many installations `/readyz` lists by name. */
const LISTED_INSTALLATIONS = 20;

/** `2026-12-02T03:40:12Z` */
const when = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/** One phrase for an auth.test result, e.g. `auth.test ok at …`, `auth.test failed 3 times, last at … (HTTP 500)`. */
export function describeCheck(check: AuthCheck): string {
  if (check.ok) return `auth.test ok at ${when(check.at)}`;
  if (check.rejected) return `token refused (${check.error}) at ${when(check.at)}`;
  const times = check.failures > 1 ? ` ${check.failures} times in a row` : "";
  return `auth.test failed${times}, last at ${when(check.at)} (${check.error})`;
}

/**
 * The Slack lines of `status` for a tenant, from real `auth.test` results (asked again when the
 * last one is older than a minute), never from configuration alone: the single workspace
 * (default tenant) says "connected" only after Slack accepted `SLACK_BOT_TOKEN`; an OAuth
 * installation shows its state and its own token's check.
 */
export function slackStatusLines(credentials: SlackCredentials, publicUrl?: string) {
  return async (tenantId: string): Promise<string[]> => {
    const single = credentials.single;
    if (tenantId === DEFAULT_TENANT && single) {
      const check = await single.check();
      if (!check) return ["Slack: not verified yet — auth.test has not answered (SLACK_BOT_TOKEN)."];
      if (check.ok) return [`Slack: connected (single workspace; ${describeCheck(check)}).`];
      if (check.rejected) return [`Slack: not working (${describeCheck(check)}). Check SLACK_BOT_TOKEN.`];
      return [`Slack: not connected — ${describeCheck(check)}; retrying in the background.`];
    }
    const inst = await credentials.installation(tenantId);
    if (!inst) return [];
    if (inst.status === "broken") {
      const where = publicUrl ? `${publicUrl.replace(/\/$/, "")}/slack/install` : "/slack/install";
      return [`Slack: installation broken (${inst.brokenReason ?? "unknown"}). Reinstall Atom at ${where}.`];
    }
    const name = inst.teamName ?? inst.teamId ?? tenantId;
    const check = await credentials.checkInstallation(tenantId);
    if (!check) return [`Slack: installed in ${name}.`];
    return [
      check.ok
        ? `Slack: installed in ${name} (${describeCheck(check)}).`
        : `Slack: installed in ${name}, but ${describeCheck(check)}.`,
    ];
  };
}

/**
 * The `slack` part of `/readyz` (not critical: a refused token is not fixed by a restart): the
 * single token's auth.test result and time — failing while Slack has not accepted it — and each
 * OAuth installation's state.
 */
export function slackReadiness(credentials: SlackCredentials): ReadinessCheck {
  return {
    name: "slack",
    critical: false,
    async check() {
      const parts: string[] = [];
      const single = credentials.single;
      let failure: string | undefined;
      if (single) {
        const check = await single.check();
        if (!check) failure = "SLACK_BOT_TOKEN: auth.test has not answered yet";
        else if (!check.ok) failure = `SLACK_BOT_TOKEN: ${describeCheck(check)}`;
        else parts.push(`SLACK_BOT_TOKEN: ${describeCheck(check)}`);
      }
      if (credentials.oauth) {
        const all = await credentials.installations();
        const broken = all.filter((i) => i.status === "broken");
        const listed = all
          .slice(0, LISTED_INSTALLATIONS)
          .map(
            (i) =>
              `${i.tenantId} ${i.status === "broken" ? `broken (${i.brokenReason ?? "unknown"})` : "active"}`,
          );
        const more = all.length > LISTED_INSTALLATIONS ? `, … ${all.length - LISTED_INSTALLATIONS} more` : "";
        parts.push(
          all.length === 0
            ? "no OAuth installation yet"
            : `${all.length} installation(s), ${broken.length} broken: ${listed.join(", ")}${more}`,
        );
      }
      if (failure) throw new Error([failure, ...parts].join("; "));
      return parts.join("; ");
    },
  };
}
