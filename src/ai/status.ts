import type { Bot } from "../bot/types.ts";
import type { Config } from "../config.ts";
import type { WorkspaceEmbeddings } from "./embeddings.ts";
import { label } from "./service.ts";
import { type Ai, AI_PROVIDERS_FOR_STATUS } from "./index.ts";

/**
 * The `status` lines of a tenant's embeddings: coverage of the space searches use ("vectors:
 * 812/884 chunks, model text-embedding-3-small"), a re-embedding in progress, the last error.
 */
export async function embeddingStatusLines(
  embeddings: WorkspaceEmbeddings,
  tenantId: string,
): Promise<string[]> {
  const c = await embeddings.coverage(tenantId);
  const { active, building, lastError } = c.state;
  const lines: string[] = [];
  if (!active && !building) {
    const key = await embeddings.keyOf(tenantId);
    lines.push(
      !key
        ? "Search: full text only — an admin can add an OpenAI key with “settings” for search by meaning"
        : !(await embeddings.modelOf(tenantId))
          ? "Search: full text only — embeddings are turned off on the settings page"
          : "Search: full text; vectors not built yet (an OpenAI key is set, embedding runs in the background)",
    );
  } else if (active) {
    lines.push(
      `Search: hybrid (full text + vectors) — vectors: ${c.active ?? 0}/${c.chunks} chunks, model ${active.model}`,
    );
  } else {
    lines.push("Search: full text until the first vectors are complete");
  }
  if (building) {
    lines.push(
      `Re-embedding with ${building.model}: ${c.building ?? 0}/${c.chunks} chunks${active ? `; searches use ${active.model} until done` : ""}`,
    );
  }
  if (lastError) lines.push(`Embedding stopped: ${lastError}`);
  return lines;
}

/**
 * Adds the AI lines to `status`: which key answers (workspace, personal or the server's, last 4
 * only), the answer model, this month's usage per provider (calls, tokens, audio minutes) with
 * the monthly cap when ATOM_MONTHLY_TOKEN_CAP is set, and the embedding coverage.
 */
export function registerAiStatus(
  bot: Bot,
  ai: Ai,
  config: Pick<Config, "env">,
  embeddings?: WorkspaceEmbeddings,
): void {
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
    if (embeddings) lines.push(...(await embeddingStatusLines(embeddings, tenantId)));
    return lines;
  });
}
