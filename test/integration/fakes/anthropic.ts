/**
 * A fake Anthropic API on 127.0.0.1 speaking its wire format (https://docs.anthropic.com/en/api):
 * - auth: `x-api-key`, or `Authorization: Bearer <key>` (what `@anthropic-ai/sdk` 1.x sends for an
 *   `apiKey`) → otherwise 401 `{"type":"error","error":{"type":"authentication_error",…}}`;
 *   `anthropic-version` header required (400 otherwise)
 * - `POST /v1/messages` `{model, max_tokens, system?, messages, stream?}` → a Message, or with
 *   `stream: true` server-sent events `message_start`, `content_block_start`, `ping`,
 *   `content_block_delta` (`text_delta`), `content_block_stop`, `message_delta` (usage),
 *   `message_stop`
 * - `GET /v1/models` → `{data:[{type:"model",id,display_name,created_at}],has_more,first_id,last_id}`
 * - scripted failures: 401, 429 with `retry-after` (`rate_limit_error`), 500 (`api_error`),
 *   529 (`overloaded_error`), or a delay.
 * Replies come from llm-answer.ts (scripted, else the deterministic reader).
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import {
  extractiveModel,
  type FakeChatCall,
  type FakeChatReply,
  type FakeResponder,
  pieces,
} from "./llm-answer.ts";

export interface FakeAnthropic {
  /** Use as `ANTHROPIC_BASE_URL` (the SDK adds `/v1/messages`). */
  url: string;
  apiKey: string;
  chats: FakeChatCall[];
  replyNext(...replies: FakeChatReply[]): void;
  setResponder(fn: FakeResponder | undefined): void;
  close(): Promise<void>;
}

const errorTypes: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

/** Starts the fake on a free loopback port. */
export async function startFakeAnthropic(opts: { apiKey?: string } = {}): Promise<FakeAnthropic> {
  const apiKey = opts.apiKey ?? `sk-ant-api03-${randomUUID().replace(/-/g, "")}`;
  const chats: FakeChatCall[] = [];
  const scripted: FakeChatReply[] = [];
  let responder: FakeResponder = extractiveModel;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": "application/json",
        "request-id": `req_${randomUUID()}`,
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, message: string, headers: Record<string, string> = {}) =>
      send(status, { type: "error", error: { type: errorTypes[status] ?? "api_error", message } }, headers);
    const auth = req.headers.authorization;
    const credential = req.headers["x-api-key"] ?? (auth?.startsWith("Bearer ") ? auth.slice(7) : undefined);
    if (credential !== apiKey) return error(401, "invalid x-api-key");
    if (!req.headers["anthropic-version"]) return error(400, "anthropic-version: header is required");
    if (url.pathname === "/v1/models" && req.method === "GET") {
      const data = ["claude-haiku-4-5", "claude-sonnet-4-5"].map((id) => ({
        type: "model",
        id,
        display_name: id,
        created_at: "2025-10-01T00:00:00Z",
      }));
      return send(200, { data, has_more: false, first_id: data[0]!.id, last_id: data.at(-1)!.id });
    }
    if (url.pathname !== "/v1/messages" || req.method !== "POST") return error(400, "not found");
    let body: {
      model?: string;
      max_tokens?: number;
      system?: string;
      messages?: { role: string; content: string }[];
      stream?: boolean;
    };
    try {
      body = JSON.parse(raw);
    } catch {
      return error(400, "invalid JSON");
    }
    if (!body.model || typeof body.max_tokens !== "number" || !Array.isArray(body.messages)) {
      return error(400, "model, max_tokens and messages are required");
    }
    const call: FakeChatCall = {
      provider: "anthropic",
      path: url.pathname,
      credential: String(credential),
      model: body.model,
      stream: body.stream === true,
      system: typeof body.system === "string" ? body.system : "",
      messages: body.messages.map((m) => ({ role: m.role, content: String(m.content) })),
      status: 0,
    };
    chats.push(call);
    const reply = scripted.shift() ?? responder(call);
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.destroyed) return;
    if (reply.status && reply.status !== 200) {
      call.status = reply.status;
      return error(
        reply.status,
        reply.status === 429
          ? "Number of request tokens has exceeded your per-minute rate limit"
          : "Internal server error",
        reply.retryAfter ? { "retry-after": reply.retryAfter } : {},
      );
    }
    call.status = 200;
    const text = reply.text ?? "";
    const id = `msg_${randomUUID().replace(/-/g, "").slice(0, 24)}`;
    const inputTokens = Math.ceil(
      (call.system.length + call.messages.reduce((s, m) => s + m.content.length, 0)) / 4,
    );
    const outputTokens = Math.max(1, Math.ceil(text.length / 4));
    if (!body.stream) {
      return send(200, {
        id,
        type: "message",
        role: "assistant",
        model: body.model,
        content: [{ type: "text", text }],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: outputTokens },
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    const ev = (type: string, data: unknown) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    ev("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model: body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: inputTokens, output_tokens: 1 },
      },
    });
    ev("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    });
    ev("ping", { type: "ping" });
    for (const p of pieces(text)) {
      ev("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: p },
      });
      await new Promise((r) => setImmediate(r));
    }
    ev("content_block_stop", { type: "content_block_stop", index: 0 });
    ev("message_delta", {
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { output_tokens: outputTokens },
    });
    ev("message_stop", { type: "message_stop" });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    chats,
    replyNext: (...r) => {
      scripted.push(...r);
    },
    setResponder: (fn) => {
      responder = fn ?? extractiveModel;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
