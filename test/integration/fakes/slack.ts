import http from "node:http";
import type { AddressInfo } from "node:net";
import { TEST_SECRETS } from "../../helpers/secrets.ts";

/**
 * A loopback fake of the Slack Web API that speaks Slack's wire format:
 * `POST /api/<method>` with form or JSON bodies, tokens in `Authorization: Bearer` (or a `token`
 * form field), errors as `{ok:false,error}` with HTTP 200, rate limits as HTTP 429 with a
 * `Retry-After` header, the `oauth.v2.access` answer shape (incl. token rotation), `users.info`
 * with `profile.email`, `auth.test`, `chat.*`, `reactions.*`, `response_url` endpoints and private
 * file downloads that answer a bad token with an HTML login page (as Slack does),
 * `conversations.info` (`is_ext_shared`), streamed messages (`chat.startStream` / `appendStream` /
 * `stopStream` with Slack's rules: `recipient_user_id` and `recipient_team_id` required outside a
 * DM, at most 12 000 characters of `markdown_text` per call, `message_not_in_streaming_state` after
 * stop or once a stream was left open {@link FakeSlack.streamTimeoutMs}) and
 * `assistant.threads.setStatus`. Every call is recorded for assertions; a call whose
 * client went away before the (delayed) answer is recorded with status 0 and has no effect, as a
 * request that never reached Slack.
 */

/** One recorded request. */
export interface FakeSlackCall {
  /** Web API method (`chat.postMessage`), `response_url`, or `files.download`. */
  method: string;
  params: Record<string, unknown>;
  /** The bearer token sent, if any. */
  token?: string;
  contentType?: string;
  /** HTTP status the fake answered. */
  status: number;
  /** `error` of the answer when `ok` was false. */
  error?: string;
  /** Path of the request (response URLs, files). */
  path: string;
  at: number;
}

/** A workspace known to the fake, with its bot. */
export interface FakeTeam {
  teamId: string;
  teamName: string;
  botToken: string;
  botUserId: string;
  botId: string;
  appId: string;
}

/** A failure injected for the next call of a method. */
export type FakeFault =
  | { status: 429; retryAfter: number }
  | { status: 500 }
  | { error: string }
  | { delayMs: number };

interface FakeUser {
  id: string;
  teamId: string;
  name: string;
  email?: string;
  isBot?: boolean;
  tz?: string;
  isAdmin?: boolean;
  isOwner?: boolean;
}

interface FakeFile {
  id: string;
  teamId: string;
  name: string;
  mimetype: string;
  bytes: Buffer;
}

interface OAuthGrant {
  teamId: string;
  teamName: string;
  rotate: boolean;
  expiresIn: number;
  installerUserId: string;
}

/** A message the fake stores for `chat.postMessage`. */
export interface FakeMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text?: string;
  blocks?: unknown[];
  token: string;
  /** For a streamed message: whether it still takes appends, and when it started (ms). */
  streaming?: boolean;
  streamStartedAt?: number;
}

/** The fake Slack server. Start with {@link FakeSlack.start}; stop with `close()`. */
export class FakeSlack {
  /** Base URL, e.g. `http://127.0.0.1:43211`. */
  url = "";
  /** Value for `SLACK_API_URL` / `clientOptions.slackApiUrl`. */
  apiUrl = "";
  readonly calls: FakeSlackCall[] = [];
  readonly messages: FakeMessage[] = [];
  /** OAuth client credentials `oauth.v2.access` accepts. */
  clientId = "1111.2222";
  clientSecret: string = TEST_SECRETS.slackClientSecret;
  /** Slack closes a stream left open this long (about 5 minutes in reality). */
  streamTimeoutMs = 5 * 60_000;

  private server?: http.Server;
  private readonly tokens = new Map<string, { teamId: string; kind: "bot"; revoked?: string }>();
  private readonly teams = new Map<string, FakeTeam>();
  private readonly users = new Map<string, FakeUser>();
  private readonly files = new Map<string, FakeFile>();
  private readonly faults = new Map<string, FakeFault[]>();
  private readonly delays = new Map<string, number>();
  private readonly codes = new Map<string, OAuthGrant>();
  private readonly refreshTokens = new Map<string, OAuthGrant & { botUserId: string; botId: string }>();
  private readonly reactions = new Set<string>();
  private readonly missingThreads = new Set<string>();
  private readonly channels = new Map<string, { isExtShared: boolean }>();
  private readonly arrived = new Map<string, number>();
  private tsCounter = 0;
  private idCounter = 0;

  /** Starts the fake on 127.0.0.1 (random port). */
  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    fake.server = http.createServer((req, res) => {
      fake.handle(req, res).catch((err: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(err));
      });
    });
    // Clients reuse connections (undici subtracts 1 s from the advertised keep-alive timeout, so
    // anything near 1 s would mean a new connection per call); close() drops them all.
    fake.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => fake.server?.listen(0, "127.0.0.1", resolve));
    const { port } = fake.server.address() as AddressInfo;
    fake.url = `http://127.0.0.1:${port}`;
    fake.apiUrl = `${fake.url}/api/`;
    return fake;
  }

  /** Stops the server. */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Registers a workspace with a bot token (`xoxb-…`). */
  addTeam(p: Partial<FakeTeam> & { teamId: string }): FakeTeam {
    const n = ++this.idCounter;
    const team: FakeTeam = {
      teamName: `Team ${p.teamId}`,
      botToken: `xoxb-${p.teamId}-${n}-${Math.random().toString(36).slice(2, 12)}`,
      botUserId: `UBOT${n}${p.teamId}`,
      botId: `BBOT${n}${p.teamId}`,
      appId: "AATOM0001",
      ...p,
    };
    this.teams.set(team.teamId, team);
    this.tokens.set(team.botToken, { teamId: team.teamId, kind: "bot" });
    return team;
  }

  /** Registers a user (for `users.info`). */
  addUser(u: {
    id: string;
    teamId: string;
    name?: string;
    email?: string;
    isBot?: boolean;
    /** IANA zone, as `users.info` `tz` (Slack's default for a user without one is America/Los_Angeles). */
    tz?: string;
    isAdmin?: boolean;
    isOwner?: boolean;
  }): void {
    this.users.set(`${u.teamId}:${u.id}`, { name: u.id.toLowerCase(), ...u });
  }

  /**
   * Serves `bytes` as a private Slack file of `teamId` (default: the first team).
   * @returns the `url_private_download` to put in an event's `files[]`. A GET needs
   * `Authorization: Bearer <a valid bot token of that team>`; otherwise Slack's HTML login page.
   */
  addFile(id: string, bytes: Buffer, opts: { mimetype: string; name?: string; teamId?: string }): string {
    const teamId = opts.teamId ?? this.teams.keys().next().value ?? "T0";
    const name = opts.name ?? `${id}.bin`;
    this.files.set(id, { id, teamId, name, mimetype: opts.mimetype, bytes });
    return `${this.url}/files-pri/${teamId}-${id}/download/${encodeURIComponent(name)}`;
  }

  /** Queues a failure for the next call(s) of `method` (one fault per call, in order). */
  failNext(method: string, ...faults: FakeFault[]): void {
    this.faults.set(method, [...(this.faults.get(method) ?? []), ...faults]);
  }

  /** Requests of `method` that reached the fake (answered or not, e.g. still delayed). */
  received(method: string): number {
    return this.arrived.get(method) ?? 0;
  }

  /** Forgets the failures still queued for `method`. */
  clearFaults(method: string): void {
    this.faults.delete(method);
  }

  /** Delays every answer of `method` by `ms` (0 to clear). */
  setDelay(method: string, ms: number): void {
    this.delays.set(method, ms);
  }

  /** Makes a token fail with `error` (`token_revoked`, `account_inactive`, `invalid_auth`). */
  revokeToken(token: string, error = "token_revoked"): void {
    const t = this.tokens.get(token);
    if (t) t.revoked = error;
  }

  /** Describes a channel for `conversations.info` (unknown channels answer `channel_not_found`). */
  setChannel(id: string, p: { isExtShared: boolean }): void {
    this.channels.set(id, p);
  }

  /** Makes `chat.postMessage` with this `thread_ts` answer `thread_not_found`. */
  loseThread(threadTs: string): void {
    this.missingThreads.add(threadTs);
  }

  /**
   * Registers an OAuth authorization code for `oauth.v2.access`. With `rotate`, the answer
   * carries `refresh_token` and `expires_in` (token rotation).
   */
  addOAuthCode(
    code: string,
    g: { teamId: string; teamName?: string; rotate?: boolean; expiresIn?: number; installerUserId?: string },
  ): void {
    this.codes.set(code, {
      teamId: g.teamId,
      teamName: g.teamName ?? `Team ${g.teamId}`,
      rotate: g.rotate ?? false,
      expiresIn: g.expiresIn ?? 43_200,
      installerUserId: g.installerUserId ?? "UINSTALLER",
    });
  }

  /** A fresh `response_url` served by the fake. */
  responseUrl(id = `R${++this.idCounter}`): string {
    return `${this.url}/hooks/response/${id}`;
  }

  /** Recorded calls of one method (or `response_url`, `files.download`). */
  callsOf(method: string): FakeSlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Successful `chat.postMessage` messages, optionally of one channel. */
  posted(channel?: string): FakeMessage[] {
    return this.messages.filter((m) => !channel || m.channel === channel);
  }

  /** JSON bodies posted to `response_url` (optionally one of them). */
  responses(url?: string): Record<string, unknown>[] {
    const path = url ? new URL(url).pathname : undefined;
    return this.callsOf("response_url")
      .filter((c) => !path || c.path === path)
      .map((c) => c.params);
  }

  /** Resolves when `predicate()` is true, polling every 20 ms. @throws after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`fake slack: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Forgets recorded calls and messages (keeps teams, users, files and tokens). */
  reset(): void {
    this.calls.length = 0;
    this.messages.length = 0;
    this.faults.clear();
    this.delays.clear();
  }

  private nextTs(): string {
    this.tsCounter += 1;
    return `${1_718_000_000 + this.tsCounter}.${String(this.tsCounter).padStart(6, "0")}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.url);
    let clientGone = false;
    res.on("close", () => {
      if (!res.writableFinished) clientGone = true;
    });
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const contentType = req.headers["content-type"];

    if (req.method === "GET" && url.pathname.startsWith("/files-pri/")) {
      return this.serveFile(url, bearer, res);
    }
    if (req.method === "POST" && url.pathname.startsWith("/hooks/response/")) {
      let params: Record<string, unknown> = {};
      try {
        params = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        params = { raw };
      }
      const fault = await this.takeFault("response_url");
      const status = fault && "status" in fault ? fault.status : 200;
      this.calls.push({
        method: "response_url",
        params,
        contentType,
        status,
        path: url.pathname,
        at: Date.now(),
      });
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(status === 200 ? "ok" : "error");
      return;
    }
    const m = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (req.method !== "POST" || !m) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    const method = m[1] as string;
    let params: Record<string, unknown>;
    if (contentType?.includes("application/json")) {
      try {
        params = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        return this.answer(
          res,
          { method, params: {}, contentType, path: url.pathname },
          { ok: false, error: "invalid_json" },
        );
      }
    } else {
      params = Object.fromEntries(new URLSearchParams(raw).entries());
    }
    const token = bearer ?? (typeof params.token === "string" ? params.token : undefined);
    const rec = { method, params, token, contentType, path: url.pathname };
    this.arrived.set(method, (this.arrived.get(method) ?? 0) + 1);

    const delay = this.delays.get(method);
    if (delay) await sleep(delay);
    if (clientGone) {
      this.calls.push({ ...rec, status: 0, error: "client_gone", at: Date.now() });
      return;
    }
    const fault = await this.takeFault(method);
    if (fault && "status" in fault) {
      if (fault.status === 429) {
        this.calls.push({ ...rec, status: 429, error: "ratelimited", at: Date.now() });
        res.writeHead(429, { "content-type": "application/json", "retry-after": String(fault.retryAfter) });
        res.end(JSON.stringify({ ok: false, error: "ratelimited" }));
        return;
      }
      this.calls.push({ ...rec, status: fault.status, at: Date.now() });
      res.writeHead(fault.status, { "content-type": "text/plain" });
      res.end("internal error");
      return;
    }
    if (fault && "error" in fault) return this.answer(res, rec, { ok: false, error: fault.error });

    if (method === "oauth.v2.access")
      return this.answer(res, rec, this.oauthAccess(params, req.headers.authorization));
    if (method === "api.test") return this.answer(res, rec, { ok: true, args: params });

    if (!token) return this.answer(res, rec, { ok: false, error: "not_authed" });
    const t = this.tokens.get(token);
    if (!t) return this.answer(res, rec, { ok: false, error: "invalid_auth" });
    if (t.revoked) return this.answer(res, rec, { ok: false, error: t.revoked });
    const team = this.teams.get(t.teamId) as FakeTeam;
    return this.answer(res, rec, this.dispatch(method, params, team, token));
  }

  private dispatch(
    method: string,
    p: Record<string, unknown>,
    team: FakeTeam,
    token: string,
  ): Record<string, unknown> {
    const str = (k: string) => (typeof p[k] === "string" ? (p[k] as string) : undefined);
    switch (method) {
      case "auth.test":
        return {
          ok: true,
          url: `https://${team.teamName.toLowerCase().replace(/\W+/g, "")}.slack.com/`,
          team: team.teamName,
          user: "atom",
          team_id: team.teamId,
          user_id: team.botUserId,
          bot_id: team.botId,
          is_enterprise_install: false,
        };
      case "chat.postMessage": {
        const channel = str("channel");
        if (!channel) return { ok: false, error: "channel_not_found" };
        const blocks = parseBlocks(p.blocks);
        if (blocks === "invalid") return { ok: false, error: "invalid_blocks" };
        if (!str("text") && !blocks) return { ok: false, error: "no_text" };
        const threadTs = str("thread_ts");
        if (threadTs && this.missingThreads.has(threadTs)) return { ok: false, error: "thread_not_found" };
        const ts = this.nextTs();
        this.messages.push({ channel, ts, threadTs, text: str("text"), blocks: blocks ?? undefined, token });
        return {
          ok: true,
          channel,
          ts,
          message: {
            type: "message",
            bot_id: team.botId,
            user: team.botUserId,
            text: str("text") ?? "",
            ts,
            thread_ts: threadTs,
          },
        };
      }
      case "chat.startStream": {
        const channel = str("channel");
        if (!channel) return { ok: false, error: "channel_not_found" };
        const threadTs = str("thread_ts");
        if (!channel.startsWith("D")) {
          if (!str("recipient_user_id")) return { ok: false, error: "missing_recipient_user_id" };
          if (!str("recipient_team_id")) return { ok: false, error: "missing_recipient_team_id" };
        }
        const md = str("markdown_text") ?? "";
        if (md.length > 12_000) return { ok: false, error: "msg_too_long" };
        const ts = this.nextTs();
        this.messages.push({
          channel,
          ts,
          threadTs,
          text: md,
          token,
          streaming: true,
          streamStartedAt: Date.now(),
        });
        return { ok: true, channel, ts };
      }
      case "chat.appendStream":
      case "chat.stopStream": {
        const channel = str("channel");
        const msg = this.messages.find((m) => m.channel === channel && m.ts === str("ts"));
        if (!msg || msg.streaming === undefined) return { ok: false, error: "message_not_found" };
        if (msg.streaming && Date.now() - (msg.streamStartedAt ?? 0) > this.streamTimeoutMs)
          msg.streaming = false;
        if (!msg.streaming) return { ok: false, error: "message_not_in_streaming_state" };
        const md = str("markdown_text") ?? "";
        if (md.length > 12_000) return { ok: false, error: "msg_too_long" };
        if (method === "chat.appendStream" && !md) return { ok: false, error: "no_text" };
        msg.text = (msg.text ?? "") + md;
        if (method === "chat.stopStream") {
          msg.streaming = false;
          const blocks = parseBlocks(p.blocks);
          if (blocks === "invalid") return { ok: false, error: "invalid_blocks" };
          if (blocks) msg.blocks = blocks;
        }
        return { ok: true, channel, ts: msg.ts };
      }
      case "assistant.threads.setStatus": {
        if (!str("channel_id")) return { ok: false, error: "channel_not_found" };
        if (!str("thread_ts")) return { ok: false, error: "invalid_arguments" };
        return { ok: true };
      }
      case "chat.update": {
        const channel = str("channel");
        const ts = str("ts");
        const msg = this.messages.find((m) => m.channel === channel && m.ts === ts);
        if (!msg) return { ok: false, error: "message_not_found" };
        const blocks = parseBlocks(p.blocks);
        if (blocks === "invalid") return { ok: false, error: "invalid_blocks" };
        msg.text = str("text") ?? msg.text;
        msg.blocks = blocks ?? msg.blocks;
        return { ok: true, channel, ts, text: msg.text };
      }
      case "chat.postEphemeral": {
        if (!str("channel")) return { ok: false, error: "channel_not_found" };
        if (!str("user")) return { ok: false, error: "user_not_in_channel" };
        const blocks = parseBlocks(p.blocks);
        if (blocks === "invalid") return { ok: false, error: "invalid_blocks" };
        return { ok: true, message_ts: this.nextTs() };
      }
      case "chat.delete":
        return { ok: true, channel: str("channel"), ts: str("ts") };
      case "reactions.add": {
        const key = `${str("channel")}:${str("timestamp")}:${str("name")}`;
        if (this.reactions.has(key)) return { ok: false, error: "already_reacted" };
        this.reactions.add(key);
        return { ok: true };
      }
      case "reactions.remove": {
        const key = `${str("channel")}:${str("timestamp")}:${str("name")}`;
        if (!this.reactions.delete(key)) return { ok: false, error: "no_reaction" };
        return { ok: true };
      }
      case "conversations.info": {
        const id = str("channel") ?? "";
        const c = this.channels.get(id);
        if (!c) return { ok: false, error: "channel_not_found" };
        return {
          ok: true,
          channel: {
            id,
            is_channel: true,
            is_private: false,
            is_shared: c.isExtShared,
            is_ext_shared: c.isExtShared,
          },
        };
      }
      case "users.info": {
        const u = this.users.get(`${team.teamId}:${str("user")}`);
        if (!u) return { ok: false, error: "user_not_found" };
        return {
          ok: true,
          user: {
            id: u.id,
            team_id: u.teamId,
            name: u.name,
            real_name: u.name,
            is_bot: u.isBot ?? false,
            is_admin: u.isAdmin ?? false,
            is_owner: u.isOwner ?? false,
            is_primary_owner: false,
            deleted: false,
            ...(u.tz ? { tz: u.tz, tz_label: u.tz, tz_offset: 0 } : {}),
            profile: { real_name: u.name, display_name: u.name, ...(u.email ? { email: u.email } : {}) },
          },
        };
      }
      default:
        return { ok: false, error: "unknown_method" };
    }
  }

  private oauthAccess(
    p: Record<string, unknown>,
    authorization: string | undefined,
  ): Record<string, unknown> {
    let clientId = typeof p.client_id === "string" ? p.client_id : undefined;
    let clientSecret = typeof p.client_secret === "string" ? p.client_secret : undefined;
    if (authorization?.startsWith("Basic ")) {
      const [id, secret] = Buffer.from(authorization.slice(6), "base64").toString().split(":");
      clientId ??= id;
      clientSecret ??= secret;
    }
    if (clientId !== this.clientId) return { ok: false, error: "invalid_client_id" };
    if (clientSecret !== this.clientSecret) return { ok: false, error: "bad_client_secret" };
    if (p.grant_type === "refresh_token") {
      const old = typeof p.refresh_token === "string" ? this.refreshTokens.get(p.refresh_token) : undefined;
      if (!old) return { ok: false, error: "invalid_refresh_token" };
      this.refreshTokens.delete(p.refresh_token as string);
      const team = this.teams.get(old.teamId) as FakeTeam;
      const n = ++this.idCounter;
      const botToken = `xoxe.xoxb-1-${old.teamId}-${n}`;
      // The previous access token keeps working until it expires (only the refresh token is
      // revoked, https://docs.slack.dev/authentication/using-token-rotation).
      team.botToken = botToken;
      this.tokens.set(botToken, { teamId: old.teamId, kind: "bot" });
      const refreshToken = `xoxe-1-refresh-${n}`;
      this.refreshTokens.set(refreshToken, old);
      return {
        ok: true,
        app_id: team.appId,
        scope: "app_mentions:read,chat:write,commands",
        token_type: "bot",
        access_token: botToken,
        bot_user_id: team.botUserId,
        refresh_token: refreshToken,
        expires_in: old.expiresIn,
        team: { id: team.teamId, name: team.teamName },
        enterprise: null,
        is_enterprise_install: false,
      };
    }
    const code = typeof p.code === "string" ? p.code : undefined;
    const grant = code ? this.codes.get(code) : undefined;
    if (!grant || !code) return { ok: false, error: "invalid_code" };
    this.codes.delete(code);
    const existing = this.teams.get(grant.teamId);
    const team = existing ?? this.addTeam({ teamId: grant.teamId, teamName: grant.teamName });
    const n = ++this.idCounter;
    const access = grant.rotate ? `xoxe.xoxb-1-${grant.teamId}-${n}` : team.botToken;
    if (grant.rotate) {
      this.tokens.delete(team.botToken);
      team.botToken = access;
      this.tokens.set(access, { teamId: team.teamId, kind: "bot" });
    }
    const out: Record<string, unknown> = {
      ok: true,
      app_id: team.appId,
      authed_user: { id: grant.installerUserId },
      scope:
        "app_mentions:read,channels:history,groups:history,im:history,chat:write,commands,files:read,users:read,users:read.email,reactions:write",
      token_type: "bot",
      access_token: access,
      bot_user_id: team.botUserId,
      team: { id: team.teamId, name: team.teamName },
      enterprise: null,
      is_enterprise_install: false,
    };
    if (grant.rotate) {
      const refreshToken = `xoxe-1-refresh-${n}`;
      this.refreshTokens.set(refreshToken, { ...grant, botUserId: team.botUserId, botId: team.botId });
      out.refresh_token = refreshToken;
      out.expires_in = grant.expiresIn;
    }
    return out;
  }

  private serveFile(url: URL, bearer: string | undefined, res: http.ServerResponse): void {
    const m = /^\/files-pri\/([^-/]+)-([^/]+)\/download\//.exec(url.pathname);
    const file = m ? this.files.get(m[2] as string) : undefined;
    const t = bearer ? this.tokens.get(bearer) : undefined;
    const authorized = Boolean(file && t && !t.revoked && t.teamId === file.teamId);
    this.calls.push({
      method: "files.download",
      params: { file: m?.[2] },
      token: bearer,
      status: file ? 200 : 404,
      error: authorized ? undefined : file ? "login_page" : "file_not_found",
      path: url.pathname,
      at: Date.now(),
    });
    if (!file) {
      res.writeHead(404, { "content-type": "text/html" });
      res.end("<html><body>File not found</body></html>");
      return;
    }
    if (!authorized) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>");
      return;
    }
    res.writeHead(200, { "content-type": file.mimetype, "content-length": String(file.bytes.length) });
    res.end(file.bytes);
  }

  private async takeFault(method: string): Promise<FakeFault | undefined> {
    const list = this.faults.get(method);
    let fault = list?.shift();
    while (fault && "delayMs" in fault) {
      await sleep(fault.delayMs);
      fault = list?.shift();
    }
    return fault;
  }

  private answer(
    res: http.ServerResponse,
    rec: Omit<FakeSlackCall, "status" | "at">,
    body: Record<string, unknown>,
  ): void {
    this.calls.push({
      ...rec,
      status: 200,
      error: body.ok === false ? String(body.error) : undefined,
      at: Date.now(),
    });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(body));
  }
}

/** Parses and checks `blocks` like Slack does: ≤ 50 blocks, section text ≤ 3,000 characters. */
function parseBlocks(v: unknown): unknown[] | undefined | "invalid" {
  if (v === undefined || v === null || v === "") return undefined;
  let blocks: unknown;
  try {
    blocks = typeof v === "string" ? JSON.parse(v) : v;
  } catch {
    return "invalid";
  }
  if (!Array.isArray(blocks) || blocks.length > 50) return "invalid";
  for (const b of blocks as { type?: string; text?: { text?: string } }[]) {
    if (!b || typeof b.type !== "string") return "invalid";
    if (b.type === "section" && (b.text?.text?.length ?? 0) > 3000) return "invalid";
  }
  return blocks;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
