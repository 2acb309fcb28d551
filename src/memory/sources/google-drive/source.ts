import type { drive_v3 } from "@googleapis/drive";
import { isExtractable } from "../../extract/index.ts";
import { DocumentGoneError, formatBytes, SourceUnavailableError } from "../../feed-sync.ts";
import type { Principal } from "../../types.ts";
import {
  type ChangePage,
  CursorExpiredError,
  type ListingPage,
  SkipDocumentError,
  type Source,
  type SourceChange,
  type SourceContent,
  type SourceContext,
  type SourceEntry,
} from "../types.ts";
import { aclFromPermissions } from "./acl.ts";
import { type DriveApi, DriveApiError } from "./api.ts";

type File = drive_v3.Schema$File;

const FOLDER = "application/vnd.google-apps.folder";
const SHORTCUT = "application/vnd.google-apps.shortcut";
/** Google-native types Atom exports, and to what (Drive's export formats). */
const EXPORTS: Record<string, { mime: string; ext: string }> = {
  "application/vnd.google-apps.document": { mime: "text/plain", ext: ".txt" },
  "application/vnd.google-apps.presentation": { mime: "text/plain", ext: ".txt" },
  "application/vnd.google-apps.spreadsheet": { mime: "text/csv", ext: ".csv" },
};

const PERMISSION_FIELDS = "id,type,emailAddress,domain,role,allowFileDiscovery,deleted";
/** File fields every listing and change asks for. */
export const FILE_FIELDS = `id,name,mimeType,md5Checksum,headRevisionId,modifiedTime,size,webViewLink,trashed,driveId,exportLinks,shortcutDetails,permissions(${PERMISSION_FIELDS})`;
/** Both flags on every call: My Drive, shared drives and shared-with-me items. */
const ALL_DRIVES = { supportsAllDrives: true, includeItemsFromAllDrives: true } as const;
/** Attempts of one content download or export (a file that keeps failing is retried next sync). */
const CONTENT_ATTEMPTS = 3;
/** Largest page Drive serves for files.list and changes.list. */
const PAGE_SIZE = 1000;

/** Settings of a Drive source. */
export interface GoogleDriveSourceOptions {
  /** Source id (`gdrive:<connection id>`). */
  id: string;
  /** Shown in status: "Google Drive (ana@example.com)". */
  label: string;
  /** Largest file downloaded or exported, bytes (files above are skipped with the reason). */
  maxFileBytes: number;
}

/**
 * Google Drive as a change-feed {@link Source} (Drive API v3):
 * - full listing: the change feed's start token is taken first, then My Drive + shared-with-me
 *   (`corpora=user`) and each shared drive (`corpora=drive`), `trashed = false`, 1000 per page;
 *   the listing's last page carries that token, so nothing changed during the listing is lost;
 * - change feed: `changes.list` from the stored token; `removed` or `file.trashed` removes the
 *   document; each page's `nextPageToken` (last: `newStartPageToken`) is its resume cursor;
 * - shortcuts resolve through `shortcutDetails`: a document target is indexed once under the
 *   target's id, a folder target is walked (cycles stop), an inaccessible target is skipped;
 * - Docs and Slides are exported as text/plain (BOM removed), Sheets as text/csv; an export over
 *   Drive's limit (`exportSizeLimitExceeded`) falls back to the file's `exportLinks`, else is
 *   skipped for good; other files are downloaded with `alt=media`;
 * - the citation link is `webViewLink`; the ACL comes from `permissions` (or `permissions.list`
 *   where the listing has none, e.g. shared drives).
 * `supportsAllDrives` and `includeItemsFromAllDrives` go on every call that takes them.
 */
export class GoogleDriveSource implements Source {
  readonly kind = "gdrive";
  readonly id: string;
  readonly label: string;

  constructor(
    readonly api: DriveApi,
    private readonly opts: GoogleDriveSourceOptions,
  ) {
    this.id = opts.id;
    this.label = opts.label;
  }

  async *list(ctx: SourceContext = {}): AsyncIterable<ListingPage> {
    const { signal } = ctx;
    const start = await this.api.call(
      "changes.getStartPageToken",
      (o) => this.api.client.changes.getStartPageToken({ supportsAllDrives: true }, o),
      signal,
    );
    const cursor = start.data.startPageToken;
    if (!cursor) throw new DriveApiError(500, "noStartPageToken", "Drive returned no start page token");
    const drives: string[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.api.call(
        "drives.list",
        (o) =>
          this.api.client.drives.list({ pageSize: 100, pageToken, fields: "nextPageToken,drives(id)" }, o),
        signal,
      );
      for (const d of r.data.drives ?? []) if (d.id) drives.push(d.id);
      pageToken = r.data.nextPageToken ?? undefined;
    } while (pageToken);
    const visited = new Set<string>();
    const corpora: drive_v3.Params$Resource$Files$List[] = [
      { corpora: "user" },
      ...drives.map((driveId) => ({ corpora: "drive", driveId })),
    ];
    for (const corpus of corpora) {
      for await (const files of this.pages({ ...corpus, q: "trashed = false" }, signal)) {
        yield { entries: await this.entriesOf(files, visited, signal) };
      }
    }
    yield { entries: [], cursor };
  }

  async *changes(cursor: string, ctx: SourceContext = {}): AsyncIterable<ChangePage> {
    const { signal } = ctx;
    let pageToken = cursor;
    for (;;) {
      let r: { data: drive_v3.Schema$ChangeList };
      try {
        r = await this.api.call(
          "changes.list",
          (o) =>
            this.api.client.changes.list(
              {
                pageToken,
                pageSize: PAGE_SIZE,
                includeRemoved: true,
                spaces: "drive",
                ...ALL_DRIVES,
                fields: `nextPageToken,newStartPageToken,changes(changeType,removed,fileId,time,file(${FILE_FIELDS}))`,
              },
              o,
            ),
          signal,
        );
      } catch (err) {
        if (err instanceof DriveApiError && err.location === "pageToken") throw new CursorExpiredError();
        throw err;
      }
      const changes: SourceChange[] = [];
      const live: File[] = [];
      for (const c of r.data.changes ?? []) {
        if (c.changeType === "drive") continue;
        const f = c.file;
        if (c.removed || !f || f.trashed) {
          if (c.fileId) changes.push({ kind: "remove", docId: c.fileId });
        } else live.push(f);
      }
      for (const e of await this.entriesOf(live, new Set(), signal))
        changes.push({ kind: "upsert", entry: e });
      const next = r.data.nextPageToken ?? r.data.newStartPageToken;
      if (!next)
        throw new DriveApiError(
          500,
          "noPageToken",
          "Drive returned neither nextPageToken nor newStartPageToken",
        );
      yield { changes, cursor: next };
      if (!r.data.nextPageToken) return;
      pageToken = r.data.nextPageToken;
    }
  }

  async permissions(
    entry: SourceEntry,
    ctx: SourceContext = {},
  ): Promise<{ acl: Principal[]; notes?: string[] }> {
    const perms: drive_v3.Schema$Permission[] = [];
    let pageToken: string | undefined;
    try {
      do {
        const r = await this.api.call(
          "permissions.list",
          (o) =>
            this.api.client.permissions.list(
              {
                fileId: entry.docId,
                supportsAllDrives: true,
                pageSize: 100,
                pageToken,
                fields: `nextPageToken,permissions(${PERMISSION_FIELDS})`,
              },
              o,
            ),
          ctx.signal,
        );
        perms.push(...(r.data.permissions ?? []));
        pageToken = r.data.nextPageToken ?? undefined;
      } while (pageToken);
    } catch (err) {
      if (err instanceof DriveApiError && (err.status === 403 || err.status === 404)) {
        return {
          acl: [],
          notes: ["its sharing cannot be read; only the person who connected Drive can use it"],
        };
      }
      throw err;
    }
    return aclFromPermissions(perms);
  }

  async fetch(entry: SourceEntry, ctx: SourceContext = {}): Promise<SourceContent> {
    const { signal } = ctx;
    const mime = String(entry.extra?.mimeType ?? entry.mime ?? "");
    const exp = EXPORTS[mime];
    try {
      if (exp) {
        const bytes = await this.export(entry, exp.mime, signal);
        return { bytes: stripBom(bytes), fileName: `${entry.name}${exp.ext}`, mime: exp.mime };
      }
      const r = await this.api.call(
        "files.get(media)",
        (o) =>
          this.api.client.files.get(
            { fileId: entry.docId, alt: "media", supportsAllDrives: true },
            { ...o, responseType: "arraybuffer" },
          ),
        signal,
        CONTENT_ATTEMPTS,
      );
      return { bytes: Buffer.from(r.data as unknown as ArrayBuffer), fileName: entry.name, mime };
    } catch (err) {
      if (err instanceof DriveApiError) {
        if (err.status === 404) throw new DocumentGoneError();
        if (err.status === 403 || err.status === 400) {
          throw new SkipDocumentError(
            `Google Drive refused the ${exp ? "export" : "download"}: ${err.message}`,
          );
        }
      }
      if (err instanceof SourceUnavailableError && !err.rateLimited) {
        throw new SkipDocumentError(
          `${exp ? "export" : "download"} failed (${err.message}); retried at the next sync`,
          false,
        );
      }
      throw err;
    }
  }

  /** Exports a Google-native document; over the export limit, tries the file's export link. */
  private async export(entry: SourceEntry, mime: string, signal?: AbortSignal): Promise<Buffer> {
    try {
      const r = await this.api.call(
        "files.export",
        (o) =>
          this.api.client.files.export(
            { fileId: entry.docId, mimeType: mime },
            { ...o, responseType: "arraybuffer" },
          ),
        signal,
        CONTENT_ATTEMPTS,
      );
      return Buffer.from(r.data as unknown as ArrayBuffer);
    } catch (err) {
      if (!(err instanceof DriveApiError && err.reason === "exportSizeLimitExceeded")) throw err;
      const link = (entry.extra?.exportLinks as Record<string, string> | undefined)?.[mime];
      if (!link) throw new SkipDocumentError("too large for Google Drive's export, and no export link");
      try {
        const bytes = await this.api.fetchUrl(link, signal);
        if (bytes.length > this.opts.maxFileBytes) {
          throw new SkipDocumentError(`export is too large (${formatBytes(bytes.length)})`);
        }
        return bytes;
      } catch (linkErr) {
        if (linkErr instanceof SkipDocumentError) throw linkErr;
        if (linkErr instanceof DriveApiError) {
          throw new SkipDocumentError(
            `too large for Google Drive's export, and its export link failed (${linkErr.message})`,
          );
        }
        throw linkErr;
      }
    }
  }

  /** Pages of `files.list` for one corpus or query. */
  private async *pages(
    params: drive_v3.Params$Resource$Files$List,
    signal?: AbortSignal,
  ): AsyncIterable<File[]> {
    let pageToken: string | undefined;
    do {
      const r = await this.api.call(
        "files.list",
        (o) =>
          this.api.client.files.list(
            {
              ...params,
              ...ALL_DRIVES,
              pageSize: PAGE_SIZE,
              pageToken,
              fields: `nextPageToken,files(${FILE_FIELDS})`,
            },
            o,
          ),
        signal,
      );
      yield r.data.files ?? [];
      pageToken = r.data.nextPageToken ?? undefined;
    } while (pageToken);
  }

  /**
   * Entries for a batch of files: documents map directly; folders add nothing (their files are
   * listed on their own); shortcuts resolve to their target (a folder target is walked).
   * `visited` holds the folders walked so far (a shortcut cycle stops there).
   */
  private async entriesOf(files: File[], visited: Set<string>, signal?: AbortSignal): Promise<SourceEntry[]> {
    const out: SourceEntry[] = [];
    for (const f of files) {
      if (!f.id || f.mimeType === FOLDER) continue;
      if (f.mimeType !== SHORTCUT) {
        out.push(this.toEntry(f));
        continue;
      }
      const targetId = f.shortcutDetails?.targetId;
      const target = targetId ? await this.getFile(targetId, signal) : undefined;
      if (!target) {
        out.push(this.skipped(f, "shortcut target is not accessible"));
      } else if (target.trashed) {
      } else if (target.mimeType === FOLDER) {
        out.push(...(await this.walk(target.id!, visited, signal)));
      } else if (target.mimeType === SHORTCUT) {
        out.push(this.skipped(f, "shortcut points to another shortcut"));
      } else {
        out.push(this.toEntry(target));
      }
    }
    return out;
  }

  /** Every document under a folder reached through a shortcut (each folder once: cycles stop). */
  private async walk(folderId: string, visited: Set<string>, signal?: AbortSignal): Promise<SourceEntry[]> {
    if (visited.has(folderId) || !/^[A-Za-z0-9_-]+$/.test(folderId)) return [];
    visited.add(folderId);
    const out: SourceEntry[] = [];
    for await (const files of this.pages(
      { corpora: "allDrives", q: `'${folderId}' in parents and trashed = false` },
      signal,
    )) {
      for (const f of files) {
        if (f.mimeType === FOLDER && f.id) out.push(...(await this.walk(f.id, visited, signal)));
      }
      out.push(...(await this.entriesOf(files, visited, signal)));
    }
    return out;
  }

  /** A file's metadata, or undefined when it is not accessible (404/403). */
  private async getFile(fileId: string, signal?: AbortSignal): Promise<File | undefined> {
    try {
      const r = await this.api.call(
        "files.get",
        (o) => this.api.client.files.get({ fileId, supportsAllDrives: true, fields: FILE_FIELDS }, o),
        signal,
      );
      return r.data;
    } catch (err) {
      if (err instanceof DriveApiError && (err.status === 404 || err.status === 403)) return undefined;
      throw err;
    }
  }

  private skipped(f: File, reason: string): SourceEntry {
    return { ...this.toEntry(f), skip: { reason, permanent: true } };
  }

  /** A Drive file as a source entry (version, ACL, link, skip reason when Atom cannot read it). */
  private toEntry(f: File): SourceEntry {
    const mime = f.mimeType ?? "";
    const size = Number(f.size ?? 0);
    const exportable = EXPORTS[mime];
    const entry: SourceEntry = {
      docId: f.id!,
      name: f.name ?? f.id!,
      title: f.name ?? undefined,
      uri: f.webViewLink ?? `https://drive.google.com/open?id=${encodeURIComponent(f.id!)}`,
      // Content changes move these; a sharing change does not (the ACL is compared on its own).
      version: exportable
        ? `t:${f.modifiedTime ?? ""}`
        : `${f.md5Checksum ? `m:${f.md5Checksum}` : `r:${f.headRevisionId ?? ""}:${f.modifiedTime ?? ""}`}:${size}`,
      modifiedAt: f.modifiedTime ? Date.parse(f.modifiedTime) : 0,
      size,
      mime,
      extra: { mimeType: mime, exportLinks: f.exportLinks ?? undefined },
    };
    if (Array.isArray(f.permissions)) {
      const { acl, notes } = aclFromPermissions(f.permissions);
      entry.acl = acl;
      if (notes.length > 0) entry.notes = notes;
    }
    if (!exportable) {
      if (mime.startsWith("application/vnd.google-apps.")) {
        entry.skip = { reason: `Google ${mime.slice(28)} files have no text export`, permanent: true };
      } else if (size > this.opts.maxFileBytes) {
        entry.skip = {
          reason: `file is too large (${formatBytes(size)}; the limit is ${formatBytes(this.opts.maxFileBytes)})`,
          permanent: true,
        };
      } else if (!isExtractable(entry.name, mime)) {
        const ext = /\.[^./]+$/.exec(entry.name)?.[0];
        entry.skip = {
          reason: `unsupported file type ${ext ?? `(no extension, ${mime || "unknown type"})`}`,
          permanent: true,
        };
      }
    }
    return entry;
  }
}

/** Removes a UTF-8 byte order mark (Drive's text exports start with one). */
export function stripBom(bytes: Buffer): Buffer {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
}
