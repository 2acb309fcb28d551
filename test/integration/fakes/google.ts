import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { TEST_SECRETS } from "../../helpers/secrets.ts";

/**
 * A loopback fake of Google's OAuth 2.0 endpoints and the Drive API v3, speaking their wire format:
 * - `GET /o/oauth2/v2/auth` (the consent page: checks client_id, redirect_uri, response_type,
 *   PKCE S256 challenge, access_type=offline, scope; then 302 to the redirect URI with code+state),
 * - `POST /token` (form body; `authorization_code` with the PKCE verifier checked against the
 *   challenge, `refresh_token`; errors as `{error, error_description}` — `invalid_grant` 400),
 * - Drive v3 under `/drive/v3/`: `about`, `changes/startPageToken`, `changes`, `drives`, `files`
 *   (corpora, driveId, `q` with `trashed = false` and `'<id>' in parents`), `files/{id}` (metadata
 *   or `alt=media`), `files/{id}/export`, `files/{id}/permissions`; `supportsAllDrives` /
 *   `includeItemsFromAllDrives` honoured like Drive (shared-drive items hidden without them);
 *   `fields` partial responses; `nextPageToken` pagination; errors in Google's JSON error format;
 *   401 for an unknown or expired bearer token; injected 429/403/5xx with or without `retry-after`,
 * - `GET /feeds/download/export` (a Doc's `exportLinks` target, bearer auth).
 * Every request is recorded.
 */

export interface FakePermission {
  id?: string;
  type: "user" | "group" | "domain" | "anyone";
  role?: string;
  emailAddress?: string;
  domain?: string;
  allowFileDiscovery?: boolean;
  deleted?: boolean;
}

export interface FakeDriveFile {
  id: string;
  name: string;
  mimeType: string;
  content?: Buffer;
  parents?: string[];
  driveId?: string;
  trashed?: boolean;
  permissions: FakePermission[];
  /** Whether the signed-in user may share it (only then does `files.list` return `permissions`). */
  canShare?: boolean;
  /** Permissions cannot be listed (a file owned outside the organisation): permissions.list → 403. */
  permissionsHidden?: boolean;
  modifiedTime: string;
  headRevisionId?: string;
  version: number;
  /** Size reported without real content (a 2 GB video). */
  reportedSize?: number;
  shortcutTargetId?: string;
  /** files.export answers 403 exportSizeLimitExceeded. */
  exportTooLarge?: boolean;
  /** Offer an export link (only used after exportSizeLimitExceeded). */
  exportLink?: boolean;
  /** files.export answers 500 (a Doc whose export fails). */
  exportBroken?: boolean;
  /** The signed-in user cannot see the file (404 for files.get). */
  inaccessible?: boolean;
  /**
   * Reachable only by its id or through its folder (a file shared "with anyone who has the link"
   * that someone added a shortcut to): not in the user's corpus listings nor in their change feed.
   */
  linkOnly?: boolean;
}

export interface FakeGoogleCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  token?: string;
  at: number;
}

export type FakeGoogleFault = { status: number; reason?: string; retryAfter?: string; headerName?: string };

interface Grant {
  email: string;
  challenge: string;
  redirectUri: string;
  scope: string;
  used?: boolean;
}

const GOOGLE_NATIVE_EXPORTS: Record<string, string[]> = {
  "application/vnd.google-apps.document": ["text/plain"],
  "application/vnd.google-apps.presentation": ["text/plain"],
  "application/vnd.google-apps.spreadsheet": ["text/csv"],
};

/** The loopback fake. */
export class FakeGoogle {
  url = "";
  readonly calls: FakeGoogleCall[] = [];
  readonly clientId = "fake-client-id.apps.googleusercontent.com";
  readonly clientSecret: string = TEST_SECRETS.googleClientSecret;
  /** The Google account that "signs in" at the consent page. */
  signInAs = "ana@example.com";
  readonly files = new Map<string, FakeDriveFile>();
  readonly sharedDrives: { id: string; name: string }[] = [];
  /** Access tokens issued (valid unless expired). */
  readonly accessTokens = new Map<string, { email: string; expired: boolean }>();
  readonly refreshTokens = new Map<string, { email: string; revoked: boolean }>();
  refreshCount = 0;
  /** Delay of the token endpoint's refresh answers, ms (to make concurrent refreshes overlap). */
  refreshDelayMs = 0;
  /** Hold answers of matching paths until released (crash tests). */
  holdWhen?: (path: string, query: Record<string, string>) => boolean;
  private held: (() => void)[] = [];
  private readonly changes: { id: number; fileId: string; removed: boolean }[] = [];
  private readonly grants = new Map<string, Grant>();
  private readonly faults: { match: (path: string) => boolean; fault: FakeGoogleFault }[] = [];
  private server?: http.Server;
  private seq = 0;
  private clock = Date.parse("2026-01-05T10:00:00Z");

  static async start(): Promise<FakeGoogle> {
    const f = new FakeGoogle();
    f.server = http.createServer((req, res) => {
      f.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((r) => f.server!.listen(0, "127.0.0.1", () => r()));
    f.url = `http://127.0.0.1:${(f.server.address() as AddressInfo).port}`;
    return f;
  }

  async close(): Promise<void> {
    for (const h of this.held.splice(0)) h();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  get authorizeUrl(): string {
    return `${this.url}/o/oauth2/v2/auth`;
  }
  get tokenUrl(): string {
    return `${this.url}/token`;
  }
  get apiUrl(): string {
    return `${this.url}/`;
  }

  // --- drive state ---

  private tick(): string {
    this.clock += 60_000;
    return new Date(this.clock).toISOString();
  }

  private logChange(fileId: string, removed = false): void {
    this.changes.push({ id: this.changes.length + 1, fileId, removed });
  }

  /** Adds a file (logged as a change). Text content is given as a string. */
  addFile(
    f: Partial<FakeDriveFile> & { id?: string; name: string; mimeType?: string; text?: string },
  ): FakeDriveFile {
    const id = f.id ?? `f${++this.seq}${randomBytes(3).toString("hex")}`;
    const file: FakeDriveFile = {
      mimeType: "application/vnd.google-apps.document",
      permissions: [{ id: "owner", type: "user", role: "owner", emailAddress: this.signInAs }],
      canShare: true,
      version: 1,
      ...f,
      id,
      content: f.content ?? (f.text !== undefined ? Buffer.from(f.text) : undefined),
      modifiedTime: f.modifiedTime ?? this.tick(),
      headRevisionId: `rev-${id}-1`,
    };
    delete (file as { text?: string }).text;
    this.files.set(id, file);
    this.logChange(id);
    return file;
  }

  addSharedDrive(name: string): string {
    const id = `0A${randomBytes(4).toString("hex")}`;
    this.sharedDrives.push({ id, name });
    return id;
  }

  /** Edits a file's content (new modifiedTime, revision and version). */
  editFile(id: string, text: string): void {
    const f = this.files.get(id)!;
    f.content = Buffer.from(text);
    f.modifiedTime = this.tick();
    f.version++;
    f.headRevisionId = `rev-${id}-${f.version}`;
    this.logChange(id);
  }

  /** Changes only the sharing (version moves, modifiedTime and content do not). */
  setPermissions(id: string, permissions: FakePermission[]): void {
    const f = this.files.get(id)!;
    f.permissions = permissions;
    f.version++;
    this.logChange(id);
  }

  trash(id: string, trashed = true): void {
    const f = this.files.get(id)!;
    f.trashed = trashed;
    f.version++;
    this.logChange(id);
  }

  /** Deletes a file for good: the change feed reports `removed: true` without a file. */
  remove(id: string): void {
    this.files.delete(id);
    this.logChange(id, true);
  }

  /** Makes every issued access token invalid (401) until refreshed. */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expired = true;
  }

  revokeRefreshTokens(): void {
    for (const t of this.refreshTokens.values()) t.revoked = true;
  }

  /** Makes the next request whose path matches answer with `fault` (each fault used once). */
  failNext(match: string | RegExp, ...faults: FakeGoogleFault[]): void {
    const m = (p: string) => (typeof match === "string" ? p === match : match.test(p));
    for (const fault of faults) this.faults.push({ match: m, fault });
  }

  /** Requests currently held by {@link holdWhen}. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Lets held requests go on. */
  release(): void {
    this.holdWhen = undefined;
    for (const h of this.held.splice(0)) h();
  }

  /** Recorded calls whose path matches. */
  callsTo(match: string | RegExp): FakeGoogleCall[] {
    return this.calls.filter((c) => (typeof match === "string" ? c.path === match : match.test(c.path)));
  }

  /** Recorded content downloads (alt=media, export, export links) of a file. */
  downloadsOf(id: string): FakeGoogleCall[] {
    return this.calls.filter(
      (c) =>
        (c.path === `/drive/v3/files/${id}` && c.query.alt === "media") ||
        c.path === `/drive/v3/files/${id}/export` ||
        (c.path === "/feeds/download/export" && c.query.id === id),
    );
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`fake Google: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // --- HTTP ---

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? "/", this.url);
    const query = Object.fromEntries(url.searchParams.entries());
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const call: FakeGoogleCall = {
      method: req.method ?? "GET",
      path: url.pathname,
      query,
      status: 0,
      token,
      at: Date.now(),
    };
    this.calls.push(call);
    const body = await new Promise<string>((resolve) => {
      let b = "";
      req.on("data", (d: Buffer) => {
        b += d.toString("utf8");
      });
      req.on("end", () => resolve(b));
    });
    if (this.holdWhen?.(url.pathname, query)) await new Promise<void>((r) => this.held.push(r));
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      if (Buffer.isBuffer(payload)) {
        res.writeHead(status, { "content-type": "application/octet-stream", ...headers });
        res.end(payload);
      } else {
        res.writeHead(status, { "content-type": "application/json; charset=UTF-8", ...headers });
        res.end(JSON.stringify(payload));
      }
    };
    if (url.pathname === "/o/oauth2/v2/auth") return this.authorize(query, res, call);
    if (url.pathname === "/token" && req.method === "POST")
      return this.token(new URLSearchParams(body), send);
    const faultAt = this.faults.findIndex((f) => f.match(url.pathname));
    if (faultAt >= 0) {
      const { fault } = this.faults.splice(faultAt, 1)[0]!;
      const reason = fault.reason ?? (fault.status === 429 ? "rateLimitExceeded" : "backendError");
      const headers: Record<string, string> = fault.retryAfter
        ? { [fault.headerName ?? "retry-after"]: fault.retryAfter }
        : {};
      return send(
        fault.status,
        gError(
          fault.status,
          reason,
          reason === "rateLimitExceeded" ? "Rate Limit Exceeded" : "Backend Error",
          "usageLimits",
        ),
        headers,
      );
    }
    const who = token ? this.accessTokens.get(token) : undefined;
    if (!who || who.expired) {
      return send(401, {
        error: {
          code: 401,
          message:
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
          errors: [
            {
              message: "Invalid Credentials",
              domain: "global",
              reason: "authError",
              location: "Authorization",
              locationType: "header",
            },
          ],
          status: "UNAUTHENTICATED",
        },
      });
    }
    if (url.pathname === "/feeds/download/export") return this.exportLink(query, send);
    return this.drive(url.pathname, query, send);
  }

  private authorize(q: Record<string, string>, res: http.ServerResponse, call: FakeGoogleCall): unknown {
    const bad = (why: string) => {
      call.status = 400;
      res.writeHead(400, { "content-type": "text/html" });
      res.end(`<html><body>Error 400: ${why}</body></html>`);
    };
    if (q.client_id !== this.clientId) return bad("invalid_client");
    if (q.response_type !== "code") return bad("unsupported_response_type");
    if (!q.redirect_uri) return bad("redirect_uri_mismatch");
    if (q.code_challenge_method !== "S256" || !q.code_challenge)
      return bad("invalid_request: PKCE S256 required by this fake");
    if (q.access_type !== "offline") return bad("invalid_request: offline access expected");
    if (!q.scope?.split(" ").includes("https://www.googleapis.com/auth/drive.readonly"))
      return bad("invalid_scope");
    const code = `4/0A${randomBytes(12).toString("hex")}`;
    this.grants.set(code, {
      email: this.signInAs,
      challenge: q.code_challenge,
      redirectUri: q.redirect_uri,
      scope: q.scope,
    });
    const to = new URL(q.redirect_uri);
    to.searchParams.set("code", code);
    to.searchParams.set("state", q.state ?? "");
    to.searchParams.set("scope", q.scope);
    call.status = 302;
    res.writeHead(302, { location: to.toString() });
    res.end();
  }

  private async token(form: URLSearchParams, send: (s: number, p: unknown) => void): Promise<unknown> {
    const err = (status: number, error: string, description: string) =>
      send(status, { error, error_description: description });
    if (form.get("client_id") !== this.clientId || form.get("client_secret") !== this.clientSecret) {
      return err(401, "invalid_client", "The OAuth client was not found.");
    }
    if (form.get("grant_type") === "authorization_code") {
      const grant = this.grants.get(form.get("code") ?? "");
      if (!grant || grant.used) return err(400, "invalid_grant", "Malformed auth code.");
      grant.used = true;
      if (form.get("redirect_uri") !== grant.redirectUri)
        return err(400, "redirect_uri_mismatch", "Bad Request");
      const verifier = form.get("code_verifier") ?? "";
      const challenge = createHash("sha256").update(verifier).digest("base64url");
      if (!verifier || challenge !== grant.challenge)
        return err(400, "invalid_grant", "Invalid code verifier.");
      const refresh = `1//0g${randomBytes(20).toString("base64url")}`;
      this.refreshTokens.set(refresh, { email: grant.email, revoked: false });
      return send(200, {
        access_token: this.issueAccess(grant.email),
        expires_in: 3599,
        refresh_token: refresh,
        scope: grant.scope,
        token_type: "Bearer",
        id_token: idToken(this.clientId, grant.email),
      });
    }
    if (form.get("grant_type") === "refresh_token") {
      const r = this.refreshTokens.get(form.get("refresh_token") ?? "");
      this.refreshCount++;
      if (this.refreshDelayMs) await new Promise((ok) => setTimeout(ok, this.refreshDelayMs));
      if (!r || r.revoked) return err(400, "invalid_grant", "Token has been expired or revoked.");
      return send(200, {
        access_token: this.issueAccess(r.email),
        expires_in: 3599,
        scope: "https://www.googleapis.com/auth/drive.readonly openid email",
        token_type: "Bearer",
      });
    }
    return err(400, "unsupported_grant_type", "Invalid grant_type.");
  }

  private issueAccess(email: string): string {
    const t = `ya29.a0${randomBytes(24).toString("base64url")}`;
    this.accessTokens.set(t, { email, expired: false });
    return t;
  }

  private visible(f: FakeDriveFile, q: Record<string, string>): boolean {
    if (f.inaccessible) return false;
    if (f.driveId && q.includeItemsFromAllDrives !== "true") return false;
    return true;
  }

  private fileJson(f: FakeDriveFile): Record<string, unknown> {
    const size =
      f.reportedSize ??
      (f.mimeType.startsWith("application/vnd.google-apps.") ? undefined : f.content?.length);
    const out: Record<string, unknown> = {
      kind: "drive#file",
      id: f.id,
      name: f.name,
      mimeType: f.mimeType,
      trashed: Boolean(f.trashed),
      modifiedTime: f.modifiedTime,
      version: String(f.version),
      webViewLink: f.mimeType.startsWith("application/vnd.google-apps.")
        ? `https://docs.google.com/document/d/${f.id}/edit?usp=drivesdk`
        : `https://drive.google.com/file/d/${f.id}/view?usp=drivesdk`,
      parents: f.parents ?? ["root"],
    };
    if (size !== undefined) out.size = String(size);
    if (f.driveId) out.driveId = f.driveId;
    if (f.content && !f.mimeType.startsWith("application/vnd.google-apps.")) {
      out.md5Checksum = createHash("md5").update(f.content).digest("hex");
      out.headRevisionId = f.headRevisionId;
    }
    if (f.shortcutTargetId) {
      const t = this.files.get(f.shortcutTargetId);
      out.shortcutDetails = {
        targetId: f.shortcutTargetId,
        targetMimeType: t?.mimeType ?? "application/vnd.google-apps.document",
      };
    }
    if (GOOGLE_NATIVE_EXPORTS[f.mimeType]) {
      out.exportLinks = Object.fromEntries(
        (f.exportLink ? GOOGLE_NATIVE_EXPORTS[f.mimeType]! : []).map((m) => [
          m,
          `${this.url}/feeds/download/export?id=${f.id}&exportFormat=${m === "text/csv" ? "csv" : "txt"}`,
        ]),
      );
    }
    // Drive returns permissions only when the user can share, and never for shared-drive items.
    if (f.canShare && !f.driveId && !f.permissionsHidden) out.permissions = f.permissions.map(permJson);
    return out;
  }

  private drive(
    path: string,
    q: Record<string, string>,
    send: (s: number, p: unknown, h?: Record<string, string>) => void,
  ): unknown {
    const fields = q.fields;
    const ok = (payload: Record<string, unknown>, defaults: string) =>
      send(200, project(payload, parseFields(fields ?? defaults)));
    const notFound = (id: string) =>
      send(404, gError(404, "notFound", `File not found: ${id}.`, "global", "fileId"));
    if (path === "/drive/v3/about") {
      return ok(
        {
          kind: "drive#about",
          user: { kind: "drive#user", emailAddress: this.signInAs, displayName: "Ana" },
        },
        "kind",
      );
    }
    if (path === "/drive/v3/changes/startPageToken") {
      return ok(
        { kind: "drive#startPageToken", startPageToken: String(this.changes.length + 1) },
        "kind,startPageToken",
      );
    }
    if (path === "/drive/v3/drives") {
      return ok(
        { kind: "drive#driveList", drives: this.sharedDrives.map((d) => ({ kind: "drive#drive", ...d })) },
        "kind,drives(id,name)",
      );
    }
    if (path === "/drive/v3/changes") {
      const start = Number(q.pageToken);
      if (!Number.isInteger(start) || start < 1 || start > this.changes.length + 1) {
        return send(400, gError(400, "invalid", "Invalid Value", "global", "pageToken"));
      }
      const size = Math.min(Number(q.pageSize ?? 100), 1000);
      const slice = this.changes.slice(start - 1, start - 1 + size);
      const changes = slice.flatMap((c) => {
        const f = this.files.get(c.fileId);
        if (f && (!this.visible(f, q) || f.linkOnly)) return [];
        if (c.removed || !f)
          return [
            {
              kind: "drive#change",
              changeType: "file",
              removed: true,
              fileId: c.fileId,
              time: new Date(this.clock).toISOString(),
            },
          ];
        return [
          {
            kind: "drive#change",
            changeType: "file",
            removed: false,
            fileId: c.fileId,
            time: f.modifiedTime,
            file: this.fileJson(f),
          },
        ];
      });
      const next = start + slice.length;
      const more = next <= this.changes.length;
      return ok(
        {
          kind: "drive#changeList",
          ...(more ? { nextPageToken: String(next) } : { newStartPageToken: String(next) }),
          changes,
        },
        "kind,nextPageToken,newStartPageToken,changes",
      );
    }
    if (path === "/drive/v3/files") {
      let list = [...this.files.values()].filter((f) => this.visible(f, q));
      const corpora = q.corpora ?? "user";
      const query = q.q ?? "";
      const parent = /'([^']+)' in parents/.exec(query)?.[1];
      if (parent) list = list.filter((f) => f.parents?.includes(parent));
      else list = list.filter((f) => !f.linkOnly);
      if (corpora === "drive") list = list.filter((f) => f.driveId === q.driveId);
      else if (corpora === "user") list = list.filter((f) => !f.driveId);
      if (/trashed\s*=\s*false/.test(query)) list = list.filter((f) => !f.trashed);
      list.sort((a, b) => (a.id < b.id ? -1 : 1));
      const size = Math.min(Number(q.pageSize ?? 100), 1000);
      const from = Number(q.pageToken ?? 0);
      const page = list.slice(from, from + size);
      const next = from + size < list.length ? String(from + size) : undefined;
      return ok(
        {
          kind: "drive#fileList",
          incompleteSearch: false,
          ...(next ? { nextPageToken: next } : {}),
          files: page.map((f) => this.fileJson(f)),
        },
        "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)",
      );
    }
    const m = /^\/drive\/v3\/files\/([^/]+)(\/export|\/permissions)?$/.exec(path);
    if (m) {
      const f = this.files.get(m[1]!);
      // files.export takes no supportsAllDrives; every other files/{id} call needs it for shared drives.
      const needsFlag = m[2] !== "/export";
      if (!f || f.inaccessible || (needsFlag && f.driveId && q.supportsAllDrives !== "true"))
        return notFound(m[1]!);
      if (m[2] === "/permissions") {
        if (f.permissionsHidden) {
          return send(
            403,
            gError(
              403,
              "insufficientFilePermissions",
              "The user does not have sufficient permissions for this file.",
              "global",
            ),
          );
        }
        return ok(
          { kind: "drive#permissionList", permissions: f.permissions.map(permJson) },
          "kind,permissions",
        );
      }
      if (m[2] === "/export") {
        const allowed = GOOGLE_NATIVE_EXPORTS[f.mimeType];
        if (!allowed)
          return send(
            403,
            gError(403, "fileNotExportable", "Export only supports Docs Editors files.", "global"),
          );
        if (!allowed.includes(q.mimeType ?? ""))
          return send(
            400,
            gError(400, "badRequest", "The requested conversion is not supported.", "global", "convertTo"),
          );
        if (f.exportTooLarge)
          return send(
            403,
            gError(403, "exportSizeLimitExceeded", "This file is too large to be exported.", "global"),
          );
        if (f.exportBroken) return send(500, gError(500, "internalError", "Internal Error", "global"));
        return send(200, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), f.content ?? Buffer.alloc(0)]), {
          "content-type": `${q.mimeType}; charset=utf-8`,
        });
      }
      if (q.alt === "media") {
        if (f.mimeType.startsWith("application/vnd.google-apps.")) {
          return send(
            403,
            gError(
              403,
              "fileNotDownloadable",
              "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
              "global",
              "alt",
            ),
          );
        }
        return send(200, f.content ?? Buffer.alloc(0), { "content-type": f.mimeType });
      }
      return ok(this.fileJson(f), "kind,id,name,mimeType");
    }
    send(404, gError(404, "notFound", "Not Found", "global"));
  }

  private exportLink(
    q: Record<string, string>,
    send: (s: number, p: unknown, h?: Record<string, string>) => void,
  ): unknown {
    const f = this.files.get(q.id ?? "");
    if (!f?.exportLink) return send(404, gError(404, "notFound", "Not Found", "global"));
    send(200, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), f.content ?? Buffer.alloc(0)]), {
      "content-type": "text/plain",
    });
  }
}

function permJson(p: FakePermission): Record<string, unknown> {
  return {
    kind: "drive#permission",
    id: p.id ?? `${p.type}-${p.emailAddress ?? p.domain ?? "x"}`,
    role: p.role ?? "reader",
    ...p,
  };
}

/** Google's JSON error body (https://developers.google.com/workspace/drive/api/guides/handle-errors). */
export function gError(code: number, reason: string, message: string, domain = "global", location?: string) {
  const status: Record<number, string> = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
  };
  return {
    error: {
      code,
      message,
      errors: [{ message, domain, reason, ...(location ? { location, locationType: "parameter" } : {}) }],
      status: status[code] ?? "UNKNOWN",
    },
  };
}

function idToken(aud: string, email: string): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "RS256", kid: "fake", typ: "JWT" })}.${b64({ iss: "https://accounts.google.com", aud, sub: createHash("sha256").update(email).digest("hex").slice(0, 21), email, email_verified: true, iat: now, exp: now + 3600 })}.${Buffer.from("sig").toString("base64url")}`;
}

type Mask = Map<string, Mask | true>;

/** Parses a `fields` partial-response mask: `a,b(c,d(e)),f`. */
export function parseFields(s: string): Mask {
  const mask: Mask = new Map();
  let i = 0;
  const parse = (into: Mask): void => {
    while (i < s.length) {
      let name = "";
      while (i < s.length && !",()".includes(s[i]!)) name += s[i++];
      name = name.trim();
      if (s[i] === "(") {
        i++;
        const sub: Mask = new Map();
        parse(sub);
        into.set(name, sub);
      } else if (name) into.set(name, true);
      if (s[i] === ",") i++;
      else if (s[i] === ")") {
        i++;
        return;
      }
    }
  };
  parse(mask);
  return mask;
}

function project(value: unknown, mask: Mask | true): unknown {
  if (mask === true || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => project(v, mask));
  const out: Record<string, unknown> = {};
  for (const [k, sub] of mask) {
    if (k === "*") return value;
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = project(v, sub);
  }
  return out;
}
