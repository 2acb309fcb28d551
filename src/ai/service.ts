import { makeReply } from "../bot/reply.ts";
import type { Citation } from "../bot/reply.ts";
import type { Config } from "../config.ts";
import type { ChatMessage, Messenger, Platform, ReplyStream } from "../core/ports.ts";
import { type AiKeyStore, type AiProvider, monthOf } from "../db/ai-keys.ts";
import type { SearchHit } from "../memory/types.ts";
import type { Logger } from "../observability/logger.ts";
import {
  checkAnswer,
  citationsOf,
  NOT_FOUND_MARK,
  numberSources,
  systemPrompt,
  userPrompt,
} from "./answer.ts";
import { complete, type LlmError, type LlmResult, toLlmError } from "./llm.ts";
import { type KeyVault, type ResolvedKey, userOwner } from "./vault.ts";

/** Default answer model per provider when neither the workspace nor ATOM_ANSWER_MODEL names one. */
export const DEFAULT_ANSWER_MODELS: Record<"openai" | "anthropic", string> = {
  openai: "gpt-4.1-mini",
  anthropic: "claude-haiku-4-5",
};

/** Most tokens an answer may generate. */
const MAX_ANSWER_TOKENS = 600;
/** Earlier user turns of the thread given to the model. */
const HISTORY_TURNS = 4;

/** What a generated answer attempt came to. */
export type GenerateOutcome =
  /** No usable key (or a key known to be refused): the extractive answer, said nothing about. */
  | { kind: "none" }
  | { kind: "answer"; text: string; citations: Citation[]; model: string }
  /** The model said the passages do not answer. */
  | { kind: "not_found" }
  /** Use the extractive answer; `note` (may be empty) says why in one short line. */
  | { kind: "fallback"; note: string; reason: string };

/** What the answer generator gets. */
export interface GenerateInput {
  msg: ChatMessage;
  question: string;
  /** Earlier user questions of the thread, oldest first. */
  history: string[];
  /** The search hits the extractive answer was built from (only these passages go to the model). */
  hits: SearchHit[];
  /** Where the answer streams while it is generated (Slack), when the adapter supports it. */
  stream?: ReplyStream;
}

/** The answer model of a tenant, with its key. */
export interface AnswerModel {
  key: ResolvedKey & { provider: "openai" | "anthropic" };
  model: string;
}

/**
 * Generated answers with the workspace's own key (DESIGN.md, Ask): the model gets the question,
 * the thread's last turns and only the retrieved passages, numbered one per document, and must
 * cite `[n]`. The output is checked ({@link checkAnswer}); anything wrong — an invalid citation, a
 * timeout, a provider error, the monthly token cap — gives the extractive answer instead, with a
 * short note when the asker should know. A key the provider refuses (401/403) is marked; the
 * person who set it is told once by direct message, and it is not tried again until replaced.
 */
export class AiService {
  private readonly log: Logger;
  private envKeyRefusedLogged = new Set<string>();

  constructor(
    private readonly deps: {
      vault: KeyVault;
      config: Pick<Config, "env">;
      logger: Logger;
      /** Proactive senders (the "your key was refused" DM); filled by the adapters later. */
      messengers?: Map<Platform, Messenger>;
    },
  ) {
    this.log = deps.logger.child({ component: "ai" });
  }

  get store(): AiKeyStore {
    return this.deps.vault.store;
  }

  /**
   * The answer provider, model and key for an asker: the workspace's chosen provider when it has a
   * key, else OpenAI, else Anthropic. Undefined without any key.
   */
  async answerModel(tenantId: string, user?: string): Promise<AnswerModel | undefined> {
    const settings = await this.store.settings(tenantId);
    const order: ("openai" | "anthropic")[] =
      settings.answerProvider === "anthropic" ? ["anthropic", "openai"] : ["openai", "anthropic"];
    for (const provider of order) {
      const key = await this.deps.vault.resolve(tenantId, provider, user);
      if (!key) continue;
      const model =
        (settings.answerProvider === provider ? settings.answerModel : null) ??
        this.deps.config.env.ATOM_ANSWER_MODEL ??
        DEFAULT_ANSWER_MODELS[provider];
      return { key: key as AnswerModel["key"], model };
    }
    return undefined;
  }

  /** Tokens (input + output) a tenant used this month, all providers. */
  async tokensThisMonth(tenantId: string): Promise<number> {
    return (await this.store.usage(tenantId, monthOf())).reduce(
      (s, u) => s + u.inputTokens + u.outputTokens,
      0,
    );
  }

  /** Whether the tenant reached ATOM_MONTHLY_TOKEN_CAP this month. */
  async overCap(tenantId: string): Promise<boolean> {
    const cap = this.deps.config.env.ATOM_MONTHLY_TOKEN_CAP;
    return cap !== undefined && (await this.tokensThisMonth(tenantId)) >= cap;
  }

  /**
   * Runs a model call for a tenant and records its usage; a refused key is marked (and its owner
   * told once). Used by answers and intent classification.
   * @throws LlmError.
   */
  async call(
    tenantId: string,
    am: AnswerModel,
    req: Omit<Parameters<typeof complete>[1], "model" | "timeoutMs"> & { timeoutMs?: number },
  ): Promise<LlmResult> {
    try {
      const out = await complete(am.key, {
        ...req,
        model: am.model,
        timeoutMs: req.timeoutMs ?? this.deps.config.env.ATOM_AI_TIMEOUT_SECONDS * 1000,
      });
      await this.store.addUsage({
        tenantId,
        provider: am.key.provider,
        inputTokens: out.inputTokens,
        outputTokens: out.outputTokens,
      });
      return out;
    } catch (err) {
      const e = toLlmError(err);
      if (e.kind === "auth") await this.keyRefused(tenantId, am.key);
      throw e;
    }
  }

  /** Tries a generated answer for a question whose extractive answer was found. Never throws. */
  async generate(input: GenerateInput): Promise<GenerateOutcome> {
    const { msg } = input;
    let am: AnswerModel | undefined;
    try {
      am = await this.answerModel(msg.tenantId, userOwner(msg.platform, msg.userId));
      if (!am) return { kind: "none" };
      if (await this.knownRefused(msg.tenantId, am.key)) return { kind: "none" };
      if (await this.overCap(msg.tenantId)) {
        return {
          kind: "fallback",
          reason: "cap",
          note: "This workspace used its monthly AI allowance, so I'm quoting the documents instead until next month.",
        };
      }
    } catch (err) {
      this.log.warn({ err }, "could not read the AI settings");
      return { kind: "none" };
    }
    const sources = numberSources(input.hits);
    if (sources.length === 0) return { kind: "none" };
    const history = input.history.slice(-HISTORY_TURNS).flatMap((q) => [
      { role: "user" as const, content: q },
      { role: "assistant" as const, content: "(answered)" },
    ]);
    const streamed = new StreamGate(input.stream);
    try {
      const out = await this.call(msg.tenantId, am, {
        system: systemPrompt(),
        messages: [...history, { role: "user", content: userPrompt(input.question, sources) }],
        maxTokens: MAX_ANSWER_TOKENS,
        onDelta: (t) => streamed.push(t),
      });
      const checked = checkAnswer(out.text, sources.length);
      if (checked.kind === "not_found") return { kind: "not_found" };
      if (checked.kind === "invalid") {
        this.log.info({ reason: checked.reason, tenantId: msg.tenantId }, "generated answer refused");
        return { kind: "fallback", reason: checked.reason, note: "" };
      }
      return {
        kind: "answer",
        text: checked.text,
        citations: citationsOf(sources, checked.cited),
        model: am.model,
      };
    } catch (err) {
      const e = toLlmError(err);
      this.log.warn({ kind: e.kind, status: e.status, tenantId: msg.tenantId }, "generated answer failed");
      return { kind: "fallback", reason: e.kind, note: noteFor(e) };
    }
  }

  /** A stored key the provider refused earlier (not tried again until replaced). */
  private async knownRefused(tenantId: string, key: ResolvedKey): Promise<boolean> {
    if (key.scope === "env") return false;
    const row = await this.store.get(tenantId, key.owner, key.provider);
    return Boolean(row?.invalidAt);
  }

  /**
   * A provider refused `key` (401/403): an environment key is logged once per process; a stored
   * key is marked invalid (not tried again until replaced) and the person who set it is told by
   * direct message, once. Never throws on a failed message.
   */
  async keyRefused(tenantId: string, key: ResolvedKey): Promise<void> {
    if (key.scope === "env") {
      if (!this.envKeyRefusedLogged.has(key.provider)) {
        this.envKeyRefusedLogged.add(key.provider);
        this.log.error(
          { provider: key.provider },
          "the provider refused the key set in the environment (401)",
        );
      }
      return;
    }
    const first = await this.store.markInvalid(tenantId, key.owner, key.provider);
    if (!first) return;
    const row = await this.store.get(tenantId, key.owner, key.provider);
    this.log.warn(
      { provider: key.provider, tenantId, last4: key.last4 },
      "a stored AI key was refused (401)",
    );
    const [platform, ...rest] = (row?.setBy ?? "").split(":");
    const userId = rest.join(":");
    const messenger = this.deps.messengers?.get(platform as Platform);
    if (!messenger || !userId) return;
    const fallback =
      key.provider === "deepgram"
        ? "so voice notes are transcribed with the server's key if there is one, or not at all"
        : "so I'm answering by quoting documents";
    const text = `The ${label(key.provider)} key ending in …${key.last4} was refused by the provider, ${fallback}. Replace it on the settings page (type “settings” to get a link).`;
    await messenger
      .send(
        { platform: platform as Platform, tenantId, userId },
        makeReply({ intent: "ai.key_refused", text }),
      )
      .catch((err: unknown) => this.log.warn({ err }, "could not tell the admin about the refused key"));
  }
}

/** Display name of a provider. */
export function label(p: AiProvider): string {
  return p === "openai" ? "OpenAI" : p === "anthropic" ? "Anthropic" : "Deepgram";
}

/** The short note under an extractive answer given because the model failed. */
function noteFor(e: LlmError): string {
  switch (e.kind) {
    case "timeout":
      return "The AI model took too long, so here are the passages instead.";
    case "rate_limit":
      return "The AI model is busy right now (rate limited), so here are the passages instead.";
    case "auth":
      return "The AI key was refused, so here are the passages instead. An admin has been told.";
    default:
      return "The AI model could not answer right now, so here are the passages instead.";
  }
}

/**
 * Streams the model's text as it comes, except that nothing is shown while the text so far could
 * still be the not-found mark (so "NOT_FOUND" never flashes in the thread).
 */
class StreamGate {
  private held = "";
  private open = false;
  constructor(private readonly stream?: ReplyStream) {}

  async push(text: string): Promise<void> {
    if (!this.stream) return;
    if (this.open) return this.stream.append(text);
    this.held += text;
    const t = this.held.trim();
    if (t.length > 0 && NOT_FOUND_MARK.startsWith(t.toUpperCase())) return;
    this.open = true;
    const out = this.held;
    this.held = "";
    await this.stream.append(out);
  }
}
