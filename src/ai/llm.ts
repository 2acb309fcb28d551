import type Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import { scrubSecrets } from "../observability/logger.ts";
import type { ResolvedKey } from "./vault.ts";

/** One earlier turn given to the model. */
export interface LlmTurn {
  role: "user" | "assistant";
  content: string;
}

/** One model call. */
export interface LlmRequest {
  model: string;
  system: string;
  messages: LlmTurn[];
  /** Upper bound of generated tokens. */
  maxTokens: number;
  /** Called with each piece of text as the provider streams it. */
  onDelta?: (text: string) => void | Promise<void>;
  /** Asks an OpenAI model for a JSON object (`response_format: json_object`). */
  json?: boolean;
  /** Whole-call deadline, ms (aborts the request). */
  timeoutMs: number;
  /**
   * Retries of 408/409/429/5xx and connection errors by the SDK (waiting `retry-after` /
   * `retry-after-ms` when the server sends one under 60 s). Default 1: an answer is waited for.
   */
  maxRetries?: number;
}

/** The outcome of a call: the text and the tokens the provider counted. */
export interface LlmResult {
  text: string;
  inputTokens: number;
  outputTokens: number;
}

/** Why a call failed: `auth` (401/403: bad key), `rate_limit` (429), `server` (5xx), `timeout`, `network`, `request` (other 4xx). */
export type LlmFailure = "auth" | "rate_limit" | "server" | "timeout" | "network" | "request";

/** A failed provider call. `message` never contains the key (scrubbed). */
export class LlmError extends Error {
  constructor(
    readonly kind: LlmFailure,
    message: string,
    readonly status?: number,
  ) {
    super(scrubSecrets(message));
    this.name = "LlmError";
  }
}

/** Classifies an SDK error (both SDKs share the same error shapes). */
export function toLlmError(err: unknown, timedOut = false): LlmError {
  if (err instanceof LlmError) return err;
  const e = err as { status?: number; name?: string; message?: string; constructor?: { name?: string } };
  const name = e?.constructor?.name ?? e?.name ?? "";
  const status = typeof e?.status === "number" ? e.status : undefined;
  const message = (e?.message ?? String(err)).split("\n")[0]!.slice(0, 300);
  if (timedOut || /Timeout/.test(name)) return new LlmError("timeout", "the model did not answer in time");
  if (status === 401 || status === 403) return new LlmError("auth", message, status);
  if (status === 429) return new LlmError("rate_limit", message, status);
  if (status !== undefined && status >= 500) return new LlmError("server", message, status);
  if (status !== undefined) return new LlmError("request", message, status);
  if (/Abort/.test(name)) return new LlmError("timeout", "the model did not answer in time");
  return new LlmError("network", message);
}

// The SDKs load on first use (~12 and ~22 MB resident): a server without AI keys never pays for them.
let openAiSdk: Promise<typeof OpenAI> | undefined;
let anthropicSdk: Promise<typeof Anthropic> | undefined;

function openAiClass(): Promise<typeof OpenAI> {
  if (!openAiSdk) openAiSdk = import("openai").then((m) => m.default);
  return openAiSdk;
}

function anthropicClass(): Promise<typeof Anthropic> {
  if (!anthropicSdk) anthropicSdk = import("@anthropic-ai/sdk").then((m) => m.default);
  return anthropicSdk;
}

/** Loads the SDK a provider's calls need (once per process). */
async function loadSdk(provider: ResolvedKey["provider"]): Promise<void> {
  if (provider === "openai") await openAiClass();
  else if (provider === "anthropic") await anthropicClass();
}

async function openAi(key: ResolvedKey, timeoutMs: number, maxRetries: number): Promise<OpenAI> {
  const OpenAIClient = await openAiClass();
  return new OpenAIClient({ apiKey: key.apiKey, baseURL: key.baseURL, timeout: timeoutMs, maxRetries });
}

async function anthropic(key: ResolvedKey, timeoutMs: number, maxRetries: number): Promise<Anthropic> {
  const AnthropicClient = await anthropicClass();
  return new AnthropicClient({ apiKey: key.apiKey, baseURL: key.baseURL, timeout: timeoutMs, maxRetries });
}

/**
 * Runs one chat call with streaming: OpenAI Chat Completions (`stream: true`,
 * `stream_options.include_usage`) or Anthropic Messages (`stream: true`; `message_start` /
 * `content_block_delta` / `message_delta` events), calling `onDelta` with each text piece.
 * @throws LlmError (classified) on any failure, including the `timeoutMs` deadline.
 */
export async function complete(key: ResolvedKey, req: LlmRequest): Promise<LlmResult> {
  // Loading the SDK does not count against the call's deadline.
  await loadSdk(key.provider);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const retries = req.maxRetries ?? 1;
  try {
    if (key.provider === "anthropic") {
      const stream = await (await anthropic(key, req.timeoutMs, retries)).messages.create(
        {
          model: req.model,
          max_tokens: req.maxTokens,
          system: req.system,
          messages: req.messages,
          stream: true,
        },
        { signal: controller.signal },
      );
      const out: LlmResult = { text: "", inputTokens: 0, outputTokens: 0 };
      for await (const ev of stream) {
        if (ev.type === "message_start") out.inputTokens = ev.message.usage?.input_tokens ?? 0;
        else if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") {
          out.text += ev.delta.text;
          await req.onDelta?.(ev.delta.text);
        } else if (ev.type === "message_delta")
          out.outputTokens = ev.usage?.output_tokens ?? out.outputTokens;
      }
      return out;
    }
    if (key.provider !== "openai") throw new LlmError("request", `${key.provider} has no chat model`);
    const stream = await (await openAi(key, req.timeoutMs, retries)).chat.completions.create(
      {
        model: req.model,
        messages: [{ role: "system", content: req.system }, ...req.messages],
        max_completion_tokens: req.maxTokens,
        stream: true,
        stream_options: { include_usage: true },
        ...(req.json ? { response_format: { type: "json_object" as const } } : {}),
      },
      { signal: controller.signal },
    );
    const out: LlmResult = { text: "", inputTokens: 0, outputTokens: 0 };
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta?.content;
      if (piece) {
        out.text += piece;
        await req.onDelta?.(piece);
      }
      if (chunk.usage) {
        out.inputTokens = chunk.usage.prompt_tokens;
        out.outputTokens = chunk.usage.completion_tokens;
      }
    }
    return out;
  } catch (err) {
    throw toLlmError(err, timedOut);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lists the provider's models (`GET /v1/models`, one page): the settings page's Test button,
 * a cheap call that proves the key and base URL work.
 * @returns model ids. @throws LlmError.
 */
export async function listModels(key: ResolvedKey, timeoutMs = 10_000): Promise<string[]> {
  try {
    if (key.provider === "anthropic") {
      const page = await (await anthropic(key, timeoutMs, 0)).models.list({ limit: 100 });
      return page.data.map((m) => m.id);
    }
    if (key.provider === "openai") {
      const page = await (await openAi(key, timeoutMs, 0)).models.list();
      return page.data.map((m) => m.id);
    }
    throw new LlmError("request", `${key.provider} is tested by transcribing`);
  } catch (err) {
    throw toLlmError(err);
  }
}
