/**
 * A loopback fake of the Bot Framework Connector service (the `serviceUrl` Teams puts in each
 * activity), speaking the v3 REST wire format the botbuilder `ConnectorClient` uses:
 *
 * - `POST /v3/conversations/{conversationId}/activities/{activityId}` — reply to an activity
 * - `POST /v3/conversations/{conversationId}/activities` — send to a conversation
 * - `PUT  /v3/conversations/{conversationId}/activities/{activityId}` — update an activity
 * - `GET  /v3/conversations/{conversationId}/members/{memberId}` — one member (TeamsInfo.getMember)
 * - `POST /v3/conversations` — create a conversation (proactive 1:1)
 * - `GET  /files/{token}/{name}` — pre-authenticated file downloads (`addFile`)
 *
 * Streamed messages ("Stream bot messages",
 * https://learn.microsoft.com/microsoftteams/platform/bots/streaming-ux) are checked as Teams does:
 * an activity with a `streaminfo` entity is accepted only in a personal (1:1) chat (elsewhere
 * `400 BadArgument`, "streaming api is not enabled"); the first update (a `typing` activity,
 * `informative` or `streaming`, `streamSequence` 1, no `streamId`) opens a stream whose id is the
 * returned activity id; later `typing` updates must name it, number it upwards and carry the whole
 * text so far (else `400 BadArgument`); informative text is at most 1 000 characters; a
 * `typing` activity may only be `informative`/`streaming` and the `final` one must be a
 * `message`; anything for an ended or unknown stream is `403 ContentStreamNotAllowed`. With
 * `streamMinIntervalMs`, an update arriving sooner after the previous one of its stream is
 * `429` with `Retry-After: 1` (Teams allows about one request per second). The stream fields are
 * read from the entity, or from `channelData` when the entity carries only its `type` (what
 * botbuilder's serializer leaves of it).
 *
 * Conversation ids arrive URL-encoded (`19%3Aabc%40thread.tacv2%3Bmessageid%3D1`) and are decoded.
 * Errors use the connector's `{ error: { code, message } }` body. Every request is recorded.
 *
 * The `Authorization` header is checked on every call, as the real connector does:
 * - started with `{ login }` (a bot with an app id): each API call must carry
 *   `Bearer <access token>` that the fake identity platform issued for the Bot Framework
 *   (`aud` https://api.botframework.com) to `appId`, not expired — else `401 Unauthorized`;
 * - started without (emulator / local mode): no credentials are expected, and a call that carries
 *   an `Authorization` header is answered `401` (a token must never be sent there);
 * - pre-authenticated file downloads must carry no `Authorization` header (else `401`).
 * Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { FakeMicrosoftLogin } from "./microsoft-login.ts";

/** One request the fake received. */
export interface ConnectorCall {
  method: string;
  /** Raw request path (still URL-encoded). */
  path: string;
  /** What the request did. */
  kind: "reply" | "send" | "update" | "member" | "createConversation" | "file" | "unknown";
  /** Decoded conversation id from the path, when the route has one. */
  conversationId?: string;
  /** Decoded activity id (reply target or updated activity), when the route has one. */
  activityId?: string;
  memberId?: string;
  /** Parsed JSON body (null for GET). */
  body: Record<string, unknown> | null;
  /** Request headers, lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** Status the fake answered with. */
  status: number;
  /** What the `Authorization` check found: a valid bearer token, none, or a rejected header. */
  auth: "bearer" | "none" | "rejected";
  /** The activity's `streaminfo` entity, when it has one. */
  stream?: StreamInfo;
  /** Error code the fake answered with (`BadArgument`, `ContentStreamNotAllowed`, …). */
  errorCode?: string;
  /** Id the fake gave a posted activity. */
  id?: string;
}

/** A `streaminfo` entity as Teams reads it. */
export interface StreamInfo {
  streamId?: string;
  streamType?: string;
  streamSequence?: number;
}

/** One stream as the fake saw it. */
export interface FakeStream {
  streamId: string;
  conversationId: string;
  /** Accepted activities of the stream, in order (the final message last). */
  activities: Array<{ type: string; streamType: string; sequence?: number; text?: string; at: number }>;
  ended: boolean;
}

/** How the fake checks credentials (see the module comment). */
export interface FakeConnectorOptions {
  /** The identity platform whose tokens are accepted; without it, no credentials are accepted. */
  login?: FakeMicrosoftLogin;
  /** The bot app id tokens must be issued to (default: any app the login fake knows). */
  appId?: string;
  /** Least time between two accepted activities of one stream, ms (default: not checked). */
  streamMinIntervalMs?: number;
}

/** A member TeamsInfo can look up. */
export interface FakeMember {
  id: string;
  name?: string;
  aadObjectId?: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
}

/** A failure to inject for the next matching request(s). */
export interface InjectedFailure {
  status: number;
  /** Only requests of this kind fail (default: any). */
  kind?: ConnectorCall["kind"];
  /** Only requests for this conversation id fail (default: any). */
  conversationId?: string;
  /** Only posted activities of this `type` fail, e.g. `message` (default: any request). */
  bodyType?: string;
  /** `Retry-After` header in seconds (for 429). */
  retryAfter?: number;
  /** How many requests fail (default 1). */
  times?: number;
}

/** The running fake. */
export interface FakeBotConnector {
  /** The serviceUrl to put in activities, with a trailing slash. */
  url: string;
  /** Every request, in arrival order. */
  calls: ConnectorCall[];
  /** Activities posted (reply + send) with the decoded conversation id they targeted. */
  posted(): Array<ConnectorCall & { body: Record<string, unknown> }>;
  /** Message (non-typing) activities posted. */
  messages(): Array<ConnectorCall & { body: Record<string, unknown> }>;
  /** Streams opened, by stream id, in order. */
  streams(): FakeStream[];
  /** Registers a member for `GET …/members/{id}` (any conversation). */
  addMember(member: FakeMember): void;
  /** Serves `bytes` at a pre-authenticated download URL and returns that URL. */
  addFile(name: string, bytes: Buffer | Uint8Array, contentType?: string): string;
  /** Makes matching requests fail with `status` (403, 404, 429 + Retry-After, 5xx). */
  fail(f: InjectedFailure): void;
  /** Permanently answers every request for this conversation with `status` (e.g. 403 bot removed). */
  blockConversation(conversationId: string, status: 403 | 404): void;
  /** Resolves when `predicate` holds for the recorded calls; rejects after `timeoutMs`. */
  waitFor(predicate: (calls: ConnectorCall[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Forgets recorded calls, failures and blocks (members and files stay). */
  reset(): void;
  close(): Promise<void>;
}

const ERROR_CODES: Record<number, string> = {
  400: "BadArgument",
  401: "Unauthorized",
  403: "BotNotInConversationRoster",
  404: "ConversationNotFound",
  429: "Throttled",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
};

/** Starts the fake on 127.0.0.1 (random port). */
export async function startFakeBotConnector(opts: FakeConnectorOptions = {}): Promise<FakeBotConnector> {
  const calls: ConnectorCall[] = [];
  const members = new Map<string, FakeMember>();
  const files = new Map<string, { bytes: Buffer; contentType: string }>();
  let failures: Array<InjectedFailure & { left: number }> = [];
  let blocked = new Map<string, number>();
  let waiters: Array<() => void> = [];
  let streams = new Map<string, FakeStream>();

  const notify = () => {
    for (const w of waiters) w();
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: Record<string, unknown> | null = null;
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          body = { _raw: raw };
        }
      }
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const method = req.method ?? "GET";
      const call: ConnectorCall = {
        method,
        path,
        kind: "unknown",
        body,
        headers: req.headers,
        status: 0,
        auth: "none",
      };
      route(call, res);
      calls.push(call);
      notify();
    });
  });

  const sendJson = (
    call: ConnectorCall,
    res: http.ServerResponse,
    status: number,
    json: unknown,
    headers: Record<string, string> = {},
  ) => {
    call.status = status;
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(json));
  };
  const sendError = (
    call: ConnectorCall,
    res: http.ServerResponse,
    status: number,
    headers: Record<string, string> = {},
    code = ERROR_CODES[status] ?? "Error",
    message = `fake connector: ${status}`,
  ) => {
    call.errorCode = code;
    sendJson(call, res, status, { error: { code, message } }, headers);
  };

  /**
   * Checks a posted activity carrying a `streaminfo` entity (see the module comment) and answers
   * it; returns false when the activity is not a streamed one.
   */
  function streamed(call: ConnectorCall, res: http.ServerResponse): boolean {
    const body = call.body ?? {};
    const entities = Array.isArray(body.entities) ? (body.entities as Array<Record<string, unknown>>) : [];
    const entity = entities.find((e) => e?.type === "streaminfo");
    if (!entity) return false;
    // Teams reads the fields from the entity, or from channelData (the Teams AI library's
    // StreamingResponse sends them in both; an unpatched botbuilder serializer keeps only `type`).
    const cd = (body.channelData ?? {}) as Record<string, unknown>;
    const info = entity.streamType !== undefined ? entity : cd;
    const type = String(body.type ?? "");
    const text = typeof body.text === "string" ? body.text : undefined;
    const si: StreamInfo = {
      streamId: typeof info.streamId === "string" ? info.streamId : undefined,
      streamType: typeof info.streamType === "string" ? info.streamType : undefined,
      streamSequence: typeof info.streamSequence === "number" ? info.streamSequence : undefined,
    };
    call.stream = si;
    const bad = (message: string): true => {
      sendError(call, res, 400, {}, "BadArgument", message);
      return true;
    };
    const conv = body.conversation as { conversationType?: string } | undefined;
    const personal = conv?.conversationType
      ? conv.conversationType === "personal"
      : (call.conversationId ?? "").startsWith("a:");
    if (!personal) return bad("streaming api is not enabled");
    if (type === "typing" && si.streamType !== "informative" && si.streamType !== "streaming")
      return bad("Only start streaming and continue streaming types are allowed as a typing activity");
    if (type === "message" && si.streamType !== "final")
      return bad("Only final streaming type is allowed as a message activity");
    if (type !== "typing" && type !== "message") return bad(`activity type ${type} cannot stream`);
    if (si.streamType === "informative" && (text ?? "").length > 1000)
      return bad("informative message is longer than 1000 characters");
    const now = Date.now();
    if (!si.streamId) {
      if (type !== "typing" || si.streamSequence !== 1)
        return bad("a stream starts with a typing activity with streamSequence 1");
      const id = `${now}${Math.floor(Math.random() * 1000)}`;
      streams.set(id, {
        streamId: id,
        conversationId: call.conversationId ?? "",
        activities: [{ type, streamType: si.streamType!, sequence: 1, text, at: now }],
        ended: false,
      });
      call.id = id;
      sendJson(call, res, 201, { id });
      return true;
    }
    const s = streams.get(si.streamId);
    if (!s || s.ended || s.conversationId !== call.conversationId) {
      sendError(
        call,
        res,
        403,
        {},
        "ContentStreamNotAllowed",
        "Content stream is not allowed on an ended or unknown stream",
      );
      return true;
    }
    const last = s.activities[s.activities.length - 1]!;
    if (opts.streamMinIntervalMs && now - last.at < opts.streamMinIntervalMs) {
      sendError(call, res, 429, { "retry-after": "1" }, "Throttled", "Too many requests for this stream");
      return true;
    }
    if (type === "typing") {
      const lastSeq = Math.max(...s.activities.map((a) => a.sequence ?? 0));
      if (!si.streamSequence || si.streamSequence <= lastSeq)
        return bad("ContentStreamSequenceOrderPreConditionFailed: streamSequence must increase");
      const lastText = [...s.activities].reverse().find((a) => a.streamType === "streaming")?.text ?? "";
      if (si.streamType === "streaming" && !(text ?? "").startsWith(lastText))
        return bad("a streaming update must contain the text streamed before");
    } else {
      s.ended = true;
    }
    s.activities.push({ type, streamType: si.streamType!, sequence: si.streamSequence, text, at: now });
    call.id = s.streamId;
    sendJson(call, res, 201, { id: s.streamId });
    return true;
  }

  /** The Authorization check; false when the call was answered 401. */
  function authorized(call: ConnectorCall, res: http.ServerResponse): boolean {
    const header = call.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    const reject = () => {
      call.auth = "rejected";
      sendError(call, res, 401);
      return false;
    };
    if (call.kind === "file" || !opts.login) return value === undefined ? true : reject();
    const m = /^Bearer (\S+)$/.exec(value ?? "");
    const claims = m?.[1] ? opts.login.verify(m[1]) : undefined;
    if (claims?.aud !== "https://api.botframework.com") return reject();
    if (opts.appId && claims.appid !== opts.appId) return reject();
    call.auth = "bearer";
    return true;
  }

  function route(call: ConnectorCall, res: http.ServerResponse) {
    const seg = call.path.split("/").filter(Boolean);
    const dec = (s: string | undefined) => (s === undefined ? undefined : decodeURIComponent(s));
    if (seg[0] === "files" && call.method === "GET" && seg.length >= 2) {
      call.kind = "file";
      if (!authorized(call, res)) return;
      const f = files.get(seg[1] ?? "");
      if (!f) return sendError(call, res, 404);
      call.status = 200;
      res.writeHead(200, { "content-type": f.contentType, "content-length": String(f.bytes.length) });
      res.end(f.bytes);
      return;
    }
    if (!authorized(call, res)) return;
    if (seg[0] !== "v3" || seg[1] !== "conversations") return sendError(call, res, 404);
    if (seg.length === 2 && call.method === "POST") call.kind = "createConversation";
    else if (seg.length >= 3) {
      call.conversationId = dec(seg[2]);
      if (seg[3] === "activities" && seg.length === 4 && call.method === "POST") call.kind = "send";
      else if (seg[3] === "activities" && seg.length === 5 && call.method === "POST") {
        call.kind = "reply";
        call.activityId = dec(seg[4]);
      } else if (seg[3] === "activities" && seg.length === 5 && call.method === "PUT") {
        call.kind = "update";
        call.activityId = dec(seg[4]);
      } else if (seg[3] === "members" && seg.length === 5 && call.method === "GET") {
        call.kind = "member";
        call.memberId = dec(seg[4]);
      }
    }
    if (call.kind === "unknown") return sendError(call, res, 404);

    const blockedStatus = call.conversationId ? blocked.get(call.conversationId) : undefined;
    if (blockedStatus) return sendError(call, res, blockedStatus);
    const failure = failures.find(
      (f) =>
        f.left > 0 &&
        (!f.kind || f.kind === call.kind) &&
        (!f.conversationId || f.conversationId === call.conversationId) &&
        (!f.bodyType || call.body?.type === f.bodyType),
    );
    if (failure) {
      failure.left -= 1;
      const headers: Record<string, string> =
        failure.retryAfter !== undefined ? { "retry-after": String(failure.retryAfter) } : {};
      return sendError(call, res, failure.status, headers);
    }

    switch (call.kind) {
      case "reply":
      case "send": {
        if (!call.body || typeof call.body.type !== "string") return sendError(call, res, 400);
        if (streamed(call, res)) return;
        call.id = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
        return sendJson(call, res, 200, { id: call.id });
      }
      case "update":
        return sendJson(call, res, 200, { id: call.activityId });
      case "member": {
        const m = members.get(call.memberId ?? "");
        if (!m)
          return sendJson(call, res, 404, {
            error: { code: "MemberNotFoundInConversation", message: "member not found" },
          });
        return sendJson(call, res, 200, {
          id: m.id,
          name: m.name,
          aadObjectId: m.aadObjectId,
          email: m.email,
          userPrincipalName: m.userPrincipalName,
          tenantId: m.tenantId,
          userRole: "user",
        });
      }
      case "createConversation": {
        const id = `a:${randomUUID()}`;
        return sendJson(call, res, 200, { id, activityId: `${Date.now()}`, serviceUrl: url });
      }
      default:
        return sendError(call, res, 404);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;

  const isPost = (c: ConnectorCall): c is ConnectorCall & { body: Record<string, unknown> } =>
    (c.kind === "reply" || c.kind === "send") && c.body !== null;

  return {
    url,
    calls,
    posted: () => calls.filter(isPost),
    messages: () => calls.filter(isPost).filter((c) => c.body.type === "message"),
    streams: () => [...streams.values()],
    addMember(member) {
      members.set(member.id, member);
    },
    addFile(name, bytes, contentType = "application/octet-stream") {
      const token = randomUUID();
      files.set(token, { bytes: Buffer.from(bytes), contentType });
      return `${url}files/${token}/${encodeURIComponent(name)}`;
    },
    fail(f) {
      failures.push({ ...f, left: f.times ?? 1 });
    },
    blockConversation(conversationId, status) {
      blocked.set(conversationId, status);
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise<void>((resolve, reject) => {
        if (predicate(calls)) return resolve();
        const check = () => {
          if (predicate(calls)) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(
            new Error(
              `fake connector: condition not met in ${timeoutMs} ms; calls: ${calls.map((c) => `${c.method} ${c.path} ${c.status}`).join(", ")}`,
            ),
          );
        }, timeoutMs);
        waiters.push(check);
      });
    },
    reset() {
      calls.length = 0;
      failures = [];
      blocked = new Map();
      streams = new Map();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A loopback stand-in for the Bot Framework token issuer's public side: the OpenID metadata
 * document and its JWKS (`keys` with `endorsements`, as login.botframework.com publishes them), and
 * a signer that mints channel tokens (RS256, `iss` https://api.botframework.com, `aud` = bot app id,
 * `serviceurl` claim) the way the Teams channel does.
 * Reference: https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication
 */
export interface FakeBotFrameworkAuth {
  /** URL of the OpenID metadata document (pass as the adapter's `channelAuth.openIdMetadataUrl`). */
  openIdMetadataUrl: string;
  /** Mints a channel token; `signWith: "stranger"` signs with a key that is not published. */
  token(claims: {
    appId: string;
    serviceUrl: string;
    issuer?: string;
    expiresInSeconds?: number;
    signWith?: "published" | "stranger";
  }): string;
  /** Requests made to the metadata and key endpoints. */
  requests: string[];
  close(): Promise<void>;
}

/** Starts the fake token issuer on 127.0.0.1. */
export async function startFakeBotFrameworkAuth(
  endorsements: string[] = ["msteams"],
): Promise<FakeBotFrameworkAuth> {
  const { generateKeyPairSync, sign } = await import("node:crypto");
  const published = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = "atom-test-key-1";
  const jwk = published.publicKey.export({ format: "jwk" }) as { n: string; e: string };
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    res.setHeader("content-type", "application/json");
    if (req.url === "/v1/.well-known/openidconfiguration") {
      res.end(
        JSON.stringify({
          issuer: "https://api.botframework.com",
          authorization_endpoint: "https://invalid.botframework.com",
          jwks_uri: `${base}/v1/.well-known/keys`,
          id_token_signing_alg_values_supported: ["RS256"],
          token_endpoint_auth_methods_supported: ["private_key_jwt"],
        }),
      );
    } else if (req.url === "/v1/.well-known/keys") {
      res.end(JSON.stringify({ keys: [{ kty: "RSA", use: "sig", kid, n: jwk.n, e: jwk.e, endorsements }] }));
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return {
    openIdMetadataUrl: `${base}/v1/.well-known/openidconfiguration`,
    requests,
    token({
      appId,
      serviceUrl,
      issuer = "https://api.botframework.com",
      expiresInSeconds = 3600,
      signWith = "published",
    }) {
      const now = Math.floor(Date.now() / 1000);
      const head = b64({ alg: "RS256", kid, typ: "JWT", x5t: kid });
      const body = b64({
        serviceurl: serviceUrl,
        nbf: now - 60,
        exp: now + expiresInSeconds,
        iss: issuer,
        aud: appId,
      });
      const key = signWith === "published" ? published.privateKey : stranger.privateKey;
      const sig = sign("RSA-SHA256", Buffer.from(`${head}.${body}`), key).toString("base64url");
      return `${head}.${body}.${sig}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
