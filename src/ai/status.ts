import type { Bot } from "../bot/types.ts";
import type { Config } from "../config.ts";
import { label } from "./service.ts";
import { type Ai, AI_PROVIDERS_FOR_STATUS } from "./index.ts";

/**
 * Adds the AI lines to `status`: which key answers (workspace, personal or the server's, last 4
 * only), the answer model, and this month's usage per provider (calls, tokens, audio minutes) with
 * the monthly cap when ATOM_MONTHLY_TOKEN_CAP is set.
 */
export function registerAiStatus(bot: Bot, ai: Ai, config: Pick<Config, "env">): void {
  bot.addStatusContributor(async (tenantId) => {
    const lines: string[] = [];
    const am = await ai.service.answerModel(tenantId);
    lines.push(
      am
        ? `AI answers: ${label(am.key.provider)} ${am.model} with the ${am.key.scope === "env" ? "server's" : am.key.scope} key …${am.key.last4}`
        : "AI answers: off (no key) — answers quote your documents; an admin can add a key with “settings”",
    );
    const usage = await ai.vault.store.usage(tenantId);
    const tokens = usage.reduce((s, u) => s + u.inputTokens + u.outputTokens, 0);
    const cap = config.env.ATOM_MONTHLY_TOKEN_CAP;
    for (const u of usage) {
      if (!AI_PROVIDERS_FOR_STATUS.includes(u.provider)) continue;
      const audio = u.audioSeconds > 0 ? `, ${(u.audioSeconds / 60).toFixed(1)} audio minutes` : "";
      lines.push(
        `AI usage this month, ${u.provider}: ${u.calls} calls, ${u.inputTokens + u.outputTokens} tokens${audio}`,
      );
    }
    if (cap !== undefined) {
      lines.push(
        `AI monthly token cap: ${tokens} of ${cap} used${tokens >= cap ? " — reached: answers quote documents until next month" : ""}`,
      );
    }
    return lines;
  });
}
