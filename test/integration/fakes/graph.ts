/**
 * A loopback fake of Microsoft Graph v1.0 for OneDrive and SharePoint document libraries, over HTTPS
 * with the self-signed certificate of tls.ts (the Graph client only sends tokens to https hosts).
 * It speaks Graph's documented wire format (https://learn.microsoft.com/graph/api/driveitem-delta,
 * /graph/api/driveitem-list-permissions, /graph/throttling, /graph/errors):
 *
 * - `GET /v1.0/me` — `{ id, displayName, mail, userPrincipalName }`;
 * - `GET /v1.0/me/drive/root/delta`, `/v1.0/sites/{id}/drive/root/delta`, `/v1.0/drives/{id}/root/delta`
 *   — without `token`: every item of the drive (root and folders first), `$top` per page, pages
 *   linked by `@odata.nextLink`, the last one with `@odata.deltaLink`; with a delta token: the
 *   changes since, in order (an item changed twice appears twice, its last state last); deleted
 *   items come as `{ id, deleted: { state: "deleted" }, parentReference }` with no name, and a deleted
 *   folder's children are not reported (as OneDrive for Business does); a token the fake was told to
 *   forget → `410 Gone` `resyncRequired`;
 * - `GET /v1.0/drives/{d}/items/{id}` (and `/me/drive/items/{id}`) — the item with a fresh
 *   `@microsoft.graph.downloadUrl`, or 404 `itemNotFound`;
 * - `GET /v1.0/drives/{d}/items/{id}/permissions` (and `/me/drive/items/{id}/permissions`) —
 *   `{ value: permission[] }` with `grantedToV2`, `grantedToIdentitiesV2`, `link { scope, type }`;
 * - `GET /v1.0/me/followedSites` — `{ value: site[] }`;
 * - `GET /download/{token}` — the pre-authenticated download URL: 403 when an Authorization header
 *   is present, 401 once expired (see {@link FakeGraph.expireDownloadUrls}).
 * Bearer tokens are checked with the fake identity platform (`verify`); 401
 * `InvalidAuthenticationToken` otherwise. Injected faults (429/503 with `Retry-After` in any case or
 * none) answer the next matching requests. Every request is recorded.
 */
import { randomBytes } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { FakeAccessToken } from "./microsoft-login.ts";
import { selfSignedCertificate } from "./tls.ts";

/** An identity in a permission (`grantedToV2.user`, `…group`, `…siteUser`). */
export interface FakeIdentity {
  id?: string;
  displayName?: string;
  email?: string;
  loginName?: string;
}

/** A Graph `permission` resource. */
export interface FakeGraphPermission {
  id?: string;
  roles: string[];
  grantedToV2?: {
    user?: FakeIdentity;
    group?: FakeIdentity;
    siteUser?: FakeIdentity;
    siteGroup?: FakeIdentity;
  };
  grantedToIdentitiesV2?: { user?: FakeIdentity; group?: FakeIdentity; siteUser?: FakeIdentity }[];
  link?: { scope: "anonymous" | "organization" | "users"; type: "view" | "edit" | "embed"; webUrl?: string };
  inheritedFrom?: { id: string };
}

/** One item of a fake drive. */
export interface FakeGraphItem {
  id: string;
  name: string;
  parentId?: string;
  folder?: boolean;
  content?: Buffer;
  mimeType?: string;
  permissions: FakeGraphPermission[];
  version: number;
  lastModifiedDateTime: string;
  webUrl: string;
  deleted?: boolean;
}

/** A drive: a user's OneDrive or a site's document library. */
interface FakeDrive {
  id: string;
  driveType: "business" | "documentLibrary";
  ownerOid?: string;
  siteId?: string;
  items: Map<string, FakeGraphItem>;
  rootId: string;
  /** Change log: the item's state at each change. */
  log: FakeGraphItem[];
  /** Delta tokens of an older epoch answer 410 resyncRequired. */
  epoch: number;
}

/** One request the fake received. */
export interface FakeGraphCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  authorized: boolean;
}

/** A fault answering the next matching requests. */
export interface FakeGraphFault {
  /** Applies to request paths matching this. */
  path: RegExp;
  status: 429 | 503 | 500 | 404;
  /** Header value, e.g. "3". */
  retryAfter?: string;
  /** Header name as sent (default `Retry-After`; `retry-after` to check case-insensitivity). */
  headerName?: string;
  times?: number;
}

/** The running fake. */
export interface FakeGraph {
  /** `https://127.0.0.1:<port>` (MICROSOFT_GRAPH_API_URL). */
  url: string;
  ca: string;
  calls: FakeGraphCall[];
  /** Creates the OneDrive of a user (by object id); returns its drive id. */
  addUser(user: { oid: string; upn: string; displayName?: string; mail?: string }): string;
  /** Creates a SharePoint site with one document library; returns its site id. */
  addSite(site: { name: string }): { siteId: string; driveId: string };
  /** Makes a site followed by a user. */
  follow(oid: string, siteId: string): void;
  /** The drive id of a user's OneDrive. */
  driveOf(oid: string): string;
  /** Adds or replaces a file (or folder) and logs the change. @returns the item. */
  put(
    driveId: string,
    item: Partial<FakeGraphItem> & { name: string; text?: string; parentId?: string },
  ): FakeGraphItem;
  /** Edits a file's content (new version) and logs the change. */
  edit(driveId: string, id: string, text: string): void;
  /** Replaces a file's permissions (no new version) and logs the change. */
  share(driveId: string, id: string, permissions: FakeGraphPermission[]): void;
  /** Deletes an item; a folder's children go too but only the folder is reported in delta. */
  remove(driveId: string, id: string): void;
  /** Removes an item without a change log entry (a ghost: listed before, now 404). */
  vanish(driveId: string, id: string): void;
  /** Logs an item's current state again (a duplicate in the next delta). */
  touch(driveId: string, id: string): void;
  /** Every delta token issued so far for this drive answers 410 resyncRequired. */
  expireDeltaTokens(driveId: string): void;
  /** Every download URL issued so far answers 401. */
  expireDownloadUrls(): void;
  fault(f: FakeGraphFault): void;
  /** Runs `fn` (and waits for it) before answering the next request whose path matches. */
  beforeNext(path: RegExp, fn: () => unknown): void;
  /** Calls whose path matches. */
  callsTo(path: RegExp): FakeGraphCall[];
  /** Page size of delta when `$top` is absent (default 200). */
  pageSize: number;
  close(): Promise<void>;
}

/** Starts the fake on 127.0.0.1 (random port); tokens are checked with `verify`. */
export async function startFakeGraph(opts: {
  verify: (token: string) => FakeAccessToken | undefined;
}): Promise<FakeGraph> {
  const cert = selfSignedCertificate();
  const drives = new Map<string, FakeDrive>();
  const users = new Map<
    string,
    { oid: string; upn: string; displayName?: string; mail?: string; driveId: string }
  >();
  const sites = new Map<string, { id: string; name: string; driveId: string }>();
  const followed = new Map<string, string[]>();
  const downloads = new Map<string, { driveId: string; itemId: string; expired: boolean }>();
  const calls: FakeGraphCall[] = [];
  const faults: (FakeGraphFault & { left: number })[] = [];
  const holds: { path: RegExp; fn: () => unknown }[] = [];
  let seq = 0;
  const id = (p: string) =>
    `${p}${(++seq).toString(36).toUpperCase().padStart(6, "0")}${randomBytes(3).toString("hex").toUpperCase()}`;
  const now = () => new Date(Date.now() - 60_000 + seq * 1000).toISOString();

  const newDrive = (d: Omit<FakeDrive, "items" | "log" | "epoch" | "rootId">): FakeDrive => {
    const drive: FakeDrive = { ...d, items: new Map(), log: [], epoch: 1, rootId: id("01ROOT") };
    drive.items.set(drive.rootId, {
      id: drive.rootId,
      name: "root",
      folder: true,
      permissions: [],
      version: 1,
      lastModifiedDateTime: now(),
      webUrl: `https://contoso-my.sharepoint.com/${d.id}/Documents`,
    });
    drives.set(d.id, drive);
    return drive;
  };
  const logChange = (drive: FakeDrive, item: FakeGraphItem) => drive.log.push(structuredClone(item));
  const mustDrive = (driveId: string) => {
    const d = drives.get(driveId);
    if (!d) throw new Error(`no drive ${driveId}`);
    return d;
  };

  const itemJson = (drive: FakeDrive, it: FakeGraphItem, withDownload: boolean) => {
    if (it.deleted) {
      return {
        id: it.id,
        deleted: { state: "deleted" },
        parentReference: { driveId: drive.id, driveType: drive.driveType, id: it.parentId ?? drive.rootId },
      };
    }
    const out: Record<string, unknown> = {
      id: it.id,
      name: it.name,
      eTag: `"{${it.id}},${it.version}"`,
      cTag: `"c:{${it.id}},${it.version}"`,
      createdDateTime: it.lastModifiedDateTime,
      lastModifiedDateTime: it.lastModifiedDateTime,
      webUrl: it.webUrl,
      size: it.content?.length ?? 0,
      parentReference:
        it.id === drive.rootId
          ? { driveId: drive.id, driveType: drive.driveType }
          : { driveId: drive.id, driveType: drive.driveType, id: it.parentId ?? drive.rootId },
      fileSystemInfo: {
        createdDateTime: it.lastModifiedDateTime,
        lastModifiedDateTime: it.lastModifiedDateTime,
      },
    };
    if (it.id === drive.rootId) out.root = {};
    if (it.folder)
      out.folder = { childCount: [...drive.items.values()].filter((c) => c.parentId === it.id).length };
    else {
      out.file = {
        mimeType: it.mimeType ?? "application/octet-stream",
        hashes: { quickXorHash: Buffer.from(`${it.id}:${it.version}`).toString("base64") },
      };
      if (withDownload) {
        const token = randomBytes(18).toString("base64url");
        downloads.set(token, { driveId: drive.id, itemId: it.id, expired: false });
        out["@microsoft.graph.downloadUrl"] = `${url}/download/${token}`;
      }
    }
    return out;
  };

  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const go = () => {
      const u = new URL(req.url ?? "/", "https://fake");
      const query = Object.fromEntries(u.searchParams);
      const auth = req.headers.authorization;
      const call: FakeGraphCall = {
        method: req.method ?? "GET",
        path: u.pathname,
        query,
        status: 0,
        authorized: !!auth,
      };
      calls.push(call);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        res.writeHead(status, {
          "content-type": "application/json; odata.metadata=minimal; charset=utf-8",
          "request-id": randomBytes(8).toString("hex"),
          ...headers,
        });
        res.end(body === undefined ? "" : JSON.stringify(body));
      };
      const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
        send(
          status,
          {
            error: {
              code,
              message,
              innerError: { date: new Date().toISOString(), "request-id": randomBytes(8).toString("hex") },
            },
          },
          headers,
        );

      // Pre-authenticated download URLs.
      const dl = /^\/download\/([A-Za-z0-9_-]+)$/.exec(u.pathname);
      if (dl) {
        if (auth)
          return error(403, "accessDenied", "Pre-authenticated URLs must not carry an Authorization header.");
        const d = downloads.get(dl[1]!);
        if (!d || d.expired) return error(401, "unauthenticated", "The download URL has expired.");
        const it = drives.get(d.driveId)?.items.get(d.itemId);
        if (!it || it.deleted) return error(404, "itemNotFound", "The resource could not be found.");
        call.status = 200;
        res.writeHead(200, { "content-type": it.mimeType ?? "application/octet-stream" });
        return res.end(it.content ?? Buffer.alloc(0));
      }

      const fault = faults.find((f) => f.left > 0 && f.path.test(u.pathname));
      if (fault) {
        fault.left -= 1;
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== undefined) headers[fault.headerName ?? "Retry-After"] = fault.retryAfter;
        return fault.status === 429
          ? error(429, "TooManyRequests", "Too many requests.", headers)
          : fault.status === 503
            ? error(503, "serviceNotAvailable", "The service is temporarily unavailable.", headers)
            : fault.status === 404
              ? error(404, "itemNotFound", "The resource could not be found.")
              : error(500, "generalException", "An unspecified error has occurred.");
      }

      const claims = auth?.startsWith("Bearer ") ? opts.verify(auth.slice(7)) : undefined;
      if (!claims?.oid)
        return error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.");
      const me = users.get(claims.oid);
      if (!me) return error(404, "ResourceNotFound", "User not found.");
      let p = u.pathname.replace(/^\/v1\.0/, "");
      if (!u.pathname.startsWith("/v1.0/")) return error(400, "BadRequest", "Invalid version.");
      if (p === "/me")
        return send(200, {
          "@odata.context": `${url}/v1.0/$metadata#users/$entity`,
          id: me.oid,
          displayName: me.displayName ?? me.upn,
          mail: me.mail ?? me.upn,
          userPrincipalName: me.upn,
        });
      if (p === "/me/followedSites") {
        return send(200, {
          value: (followed.get(me.oid) ?? []).map((s) => {
            const site = sites.get(s)!;
            return {
              id: site.id,
              displayName: site.name,
              name: site.name,
              webUrl: `https://contoso.sharepoint.com/sites/${site.name}`,
            };
          }),
        });
      }
      // Normalise drive paths to /drives/{id}/...
      p = p.replace(/^\/me\/drive(?=\/|$)/, `/drives/${me.driveId}`);
      const sitePath = /^\/sites\/([^/]+)\/drive(?=\/|$)/.exec(p);
      if (sitePath) {
        const site = sites.get(decodeURIComponent(sitePath[1]!));
        if (!site) return error(404, "itemNotFound", "Site not found.");
        p = p.replace(sitePath[0], `/drives/${site.driveId}`);
      }
      const m = /^\/drives\/([^/]+)(\/.*)?$/.exec(p);
      if (!m)
        return error(400, "BadRequest", `Resource not found for the segment '${p.split("/")[1] ?? ""}'.`);
      const drive = drives.get(decodeURIComponent(m[1]!));
      if (!drive || (drive.ownerOid && drive.ownerOid !== me.oid))
        return error(404, "itemNotFound", "The resource could not be found.");
      const rest = m[2] ?? "";
      if (rest === "/root/delta") return delta(drive, query, send, error);
      const item = /^\/items\/([^/]+)(\/permissions)?$/.exec(rest);
      if (item) {
        const it = drive.items.get(decodeURIComponent(item[1]!));
        if (!it || it.deleted) return error(404, "itemNotFound", "The resource could not be found.");
        if (item[2])
          return send(200, { value: it.permissions.map((x, i) => ({ id: x.id ?? `perm${i}`, ...x })) });
        return send(200, itemJson(drive, it, true));
      }
      return error(400, "BadRequest", "Unsupported request.");
    };
    const path = new URL(req.url ?? "/", "https://fake").pathname;
    const h = holds.findIndex((x) => x.path.test(path));
    if (h < 0) return go();
    const [hold] = holds.splice(h, 1);
    Promise.resolve()
      .then(() => hold!.fn())
      .then(go, go);
  });

  function delta(
    drive: FakeDrive,
    query: Record<string, string>,
    send: (s: number, b: unknown, h?: Record<string, string>) => void,
    error: (s: number, c: string, m: string, h?: Record<string, string>) => void,
  ) {
    const top = Math.min(Number(query.$top ?? fake.pageSize), 999);
    const base = `${url}/v1.0/drives/${drive.id}/root/delta`;
    const token = query.token;
    const resync = () =>
      error(
        410,
        "resyncRequired",
        "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
        { location: base },
      );
    const context = `${url}/v1.0/$metadata#Collection(driveItem)`;
    if (!token || token.startsWith("e.")) {
      // Enumeration: `e.<epoch>.<log position at start>.<offset>`.
      const [, epochStr, atStr, offStr] = token
        ? token.split(".")
        : ["", String(drive.epoch), String(drive.log.length), "0"];
      if (Number(epochStr) !== drive.epoch) return resync();
      const at = Number(atStr);
      const all = ordered(drive);
      const off = Number(offStr);
      const page = all.slice(off, off + top).map((it) => itemJson(drive, it, true));
      const more = off + top < all.length;
      return send(200, {
        "@odata.context": context,
        ...(more
          ? { "@odata.nextLink": `${base}?token=e.${drive.epoch}.${at}.${off + top}` }
          : { "@odata.deltaLink": `${base}?token=d.${drive.epoch}.${at}` }),
        value: page,
      });
    }
    // Changes: `d.<epoch>.<position>` (a delta link) or `c.<epoch>.<end>.<offset>` (a next link).
    const [kind, epochStr, posStr, offStr] = token.split(".");
    if (kind !== "d" && kind !== "c") return error(400, "invalidRequest", "Invalid token.");
    if (Number(epochStr) !== drive.epoch) return resync();
    const pos = Number(posStr);
    const off = kind === "c" ? Number(offStr) : pos;
    const end = kind === "c" ? pos : drive.log.length;
    const value = drive.log.slice(off, Math.min(off + top, end)).map((it) => itemJson(drive, it, true));
    const more = off + top < end;
    return send(200, {
      "@odata.context": context,
      ...(more
        ? { "@odata.nextLink": `${base}?token=c.${drive.epoch}.${end}.${off + top}` }
        : { "@odata.deltaLink": `${base}?token=d.${drive.epoch}.${end}` }),
      value,
    });
  }

  /** Items of a drive, parents before children (as enumeration returns them). */
  function ordered(drive: FakeDrive): FakeGraphItem[] {
    const out: FakeGraphItem[] = [];
    const byParent = new Map<string, FakeGraphItem[]>();
    for (const it of drive.items.values()) {
      if (it.deleted || it.id === drive.rootId) continue;
      const k = it.parentId ?? drive.rootId;
      byParent.set(k, [...(byParent.get(k) ?? []), it]);
    }
    const walk = (pid: string) => {
      for (const c of byParent.get(pid) ?? []) {
        out.push(c);
        if (c.folder) walk(c.id);
      }
    };
    out.push(drive.items.get(drive.rootId)!);
    walk(drive.rootId);
    return out;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeGraph = {
    url,
    ca: cert.cert,
    calls,
    pageSize: 200,
    addUser(u) {
      const d = newDrive({
        id: `b!${randomBytes(12).toString("base64url")}`,
        driveType: "business",
        ownerOid: u.oid,
      });
      users.set(u.oid, { ...u, driveId: d.id });
      return d.id;
    },
    addSite(s) {
      const siteId = `contoso.sharepoint.com,${randomBytes(8).toString("hex")},${randomBytes(8).toString("hex")}`;
      const d = newDrive({
        id: `b!${randomBytes(12).toString("base64url")}`,
        driveType: "documentLibrary",
        siteId,
      });
      sites.set(siteId, { id: siteId, name: s.name, driveId: d.id });
      return { siteId, driveId: d.id };
    },
    follow(oid, siteId) {
      followed.set(oid, [...(followed.get(oid) ?? []), siteId]);
    },
    driveOf(oid) {
      const u = users.get(oid);
      if (!u) throw new Error(`no user ${oid}`);
      return u.driveId;
    },
    put(driveId, p) {
      const drive = mustDrive(driveId);
      const prev = p.id ? drive.items.get(p.id) : undefined;
      const itemId = p.id ?? id("01");
      const it: FakeGraphItem = {
        id: itemId,
        name: p.name,
        parentId: p.parentId ?? drive.rootId,
        folder: p.folder,
        content: p.content ?? (p.text !== undefined ? Buffer.from(p.text) : undefined),
        mimeType: p.mimeType ?? (p.folder ? undefined : mimeOf(p.name)),
        permissions: p.permissions ?? [],
        version: (prev?.version ?? 0) + 1,
        lastModifiedDateTime: p.lastModifiedDateTime ?? now(),
        webUrl:
          p.webUrl ??
          `https://contoso-my.sharepoint.com/personal/${driveId.slice(2, 8)}/Documents/${encodeURIComponent(p.name)}`,
      };
      drive.items.set(itemId, it);
      logChange(drive, it);
      return it;
    },
    edit(driveId, itemId, text) {
      const drive = mustDrive(driveId);
      const it = drive.items.get(itemId)!;
      it.content = Buffer.from(text);
      it.version += 1;
      it.lastModifiedDateTime = now();
      logChange(drive, it);
    },
    share(driveId, itemId, permissions) {
      const drive = mustDrive(driveId);
      const it = drive.items.get(itemId)!;
      it.permissions = permissions;
      logChange(drive, it);
    },
    remove(driveId, itemId) {
      const drive = mustDrive(driveId);
      const it = drive.items.get(itemId)!;
      const gone = (x: FakeGraphItem) => {
        x.deleted = true;
        for (const c of drive.items.values()) if (c.parentId === x.id && !c.deleted) gone(c);
      };
      gone(it);
      logChange(drive, it);
    },
    vanish(driveId, itemId) {
      mustDrive(driveId).items.get(itemId)!.deleted = true;
    },
    touch(driveId, itemId) {
      const drive = mustDrive(driveId);
      logChange(drive, drive.items.get(itemId)!);
    },
    expireDeltaTokens(driveId) {
      const drive = mustDrive(driveId);
      drive.epoch += 1;
    },
    expireDownloadUrls() {
      for (const d of downloads.values()) d.expired = true;
    },
    fault(f) {
      faults.push({ ...f, left: f.times ?? 1 });
    },
    beforeNext(path, fn) {
      holds.push({ path, fn });
    },
    callsTo: (path) => calls.filter((c) => path.test(c.path)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

function mimeOf(name: string): string {
  const ext = /\.([^.]+)$/.exec(name)?.[1]?.toLowerCase();
  const map: Record<string, string> = {
    txt: "text/plain",
    md: "text/markdown",
    html: "text/html",
    pdf: "application/pdf",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  };
  return map[ext ?? ""] ?? "application/octet-stream";
}
