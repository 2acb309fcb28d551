import type { Client } from "@microsoft/microsoft-graph-client";
import type { DriveItemTree } from "../../../db/drive-items.ts";
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
import { aclFromGraphPermissions, type GraphPermission } from "./acl.ts";
import { DownloadUrlExpiredError, GraphApiError, type GraphApi } from "./api.ts";

/** The fields of a Graph `driveItem` Atom reads. */
export interface DriveItem {
  id: string;
  name?: string;
  cTag?: string;
  eTag?: string;
  size?: number;
  webUrl?: string;
  lastModifiedDateTime?: string;
  parentReference?: { driveId?: string; id?: string };
  file?: { mimeType?: string };
  folder?: { childCount?: number };
  root?: object;
  package?: { type?: string };
  deleted?: { state?: string };
  "@microsoft.graph.downloadUrl"?: string;
}

/** A drive Atom follows: the person's OneDrive, or a SharePoint document library. */
export interface DriveTarget {
  /** `me`, or `site:<site id>`. */
  key: string;
  /** Shown in notes. */
  name: string;
}

/** The cursor: per drive target, where its delta continues and the drive's id. */
interface Cursor {
  v: 1;
  drives: Record<string, { link: string; driveId?: string }>;
}

/** Settings of a OneDrive source. */
export interface OneDriveSourceOptions {
  /** Source id (`onedrive:<connection id>`). */
  id: string;
  label: string;
  maxFileBytes: number;
  /** The organisation's domain (organisation sharing links → `domain:<it>`). */
  tenantDomain?: string;
  /** The folder tree of this source (folder deletes). */
  tree: DriveItemTree;
  /** SharePoint document libraries followed besides the person's OneDrive. */
  sites?: DriveTarget[];
}

/** Headers Microsoft recommends for delta on OneDrive for Business and SharePoint. */
const DELTA_PREFER = "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges";

/**
 * OneDrive (and followed SharePoint libraries) as a change-feed {@link Source} over Microsoft Graph
 * delta (https://learn.microsoft.com/graph/api/driveitem-delta):
 * - full listing: `/me/drive/root/delta` (and `/sites/{id}/drive/root/delta`) without a token,
 *   following `@odata.nextLink`; the last page's `@odata.deltaLink`s form the cursor;
 * - change feed: from the stored delta links; each page's `@odata.nextLink` (last: the new
 *   `@odata.deltaLink`) is its resume cursor; `410 resyncRequired` → {@link CursorExpiredError}
 *   (the engine lists everything again and removes what is gone);
 * - an item with a `deleted` facet (no name) is removed by id; a deleted folder removes every
 *   document below it (the folder tree is kept in `drive_items`, since Graph reports only the
 *   folder); an item repeated within one delta keeps its last state (the engine's rule);
 * - content comes from `@microsoft.graph.downloadUrl`, fetched without an Authorization header;
 *   an expired URL (401/403) is asked for again; an item that 404s is removed;
 * - the ACL comes from `/items/{id}/permissions`; the citation link is the item's `webUrl`.
 * Document ids are `<drive id>:<item id>`.
 */
export class OneDriveSource implements Source {
  readonly kind = "onedrive";
  readonly id: string;
  readonly label: string;
  /** Download URLs seen in the feed, by document id (never stored: they are bearer links). */
  private readonly downloads = new Map<string, string>();

  constructor(
    readonly api: GraphApi,
    private readonly opts: OneDriveSourceOptions,
  ) {
    this.id = opts.id;
    this.label = opts.label;
  }

  private targets(): DriveTarget[] {
    return [{ key: "me", name: "OneDrive" }, ...(this.opts.sites ?? [])];
  }

  async *list(ctx: SourceContext = {}): AsyncIterable<ListingPage> {
    const cursor: Cursor = { v: 1, drives: {} };
    for (const t of this.targets()) {
      const state: { link: string; driveId?: string } = { link: startPath(t) };
      for await (const page of this.delta(t, state, ctx.signal)) {
        yield { entries: page.changes.flatMap((c) => (c.kind === "upsert" ? [c.entry] : [])) };
      }
      cursor.drives[t.key] = state;
    }
    yield { entries: [], cursor: JSON.stringify(cursor) };
  }

  async *changes(raw: string, ctx: SourceContext = {}): AsyncIterable<ChangePage> {
    let cursor: Cursor;
    try {
      cursor = JSON.parse(raw) as Cursor;
      if (cursor.v !== 1 || typeof cursor.drives !== "object") throw new Error("bad cursor");
    } catch {
      throw new CursorExpiredError("the stored OneDrive cursor is not readable; a full listing is needed");
    }
    const wanted = this.targets();
    // Libraries no longer followed: their documents go with the next full listing.
    if (Object.keys(cursor.drives).some((k) => !wanted.some((t) => t.key === k)))
      throw new CursorExpiredError();
    for (const t of wanted) {
      const state = cursor.drives[t.key] ?? { link: startPath(t) };
      cursor.drives[t.key] = state;
      for await (const page of this.delta(t, state, ctx.signal)) {
        yield { changes: page.changes, cursor: JSON.stringify(cursor) };
      }
    }
  }

  /**
   * Pages of one drive's delta from `state.link`; after each page `state.link` is where it
   * resumes (next link, or at the end the new delta link).
   */
  private async *delta(
    t: DriveTarget,
    state: { link: string; driveId?: string },
    signal?: AbortSignal,
  ): AsyncIterable<{ changes: SourceChange[] }> {
    for (;;) {
      let r: { value?: DriveItem[]; "@odata.nextLink"?: string; "@odata.deltaLink"?: string };
      try {
        r = await this.api.call(
          "delta",
          (c: Client) => c.api(state.link).header("Prefer", DELTA_PREFER).get(),
          signal,
        );
      } catch (err) {
        if (err instanceof GraphApiError && err.status === 410) throw new CursorExpiredError();
        throw err;
      }
      const items = r.value ?? [];
      state.driveId ??= items.find((i) => i.parentReference?.driveId)?.parentReference?.driveId;
      const changes = await this.changesOf(t, items, state.driveId);
      const next = r["@odata.nextLink"] ?? r["@odata.deltaLink"];
      if (!next)
        throw new GraphApiError(500, "noLink", "Graph returned neither a next link nor a delta link");
      state.link = next;
      yield { changes };
      if (!r["@odata.nextLink"]) return;
    }
  }

  /** Turns a page of driveItems into changes, keeping the folder tree current. */
  private async changesOf(t: DriveTarget, items: DriveItem[], driveId?: string): Promise<SourceChange[]> {
    const out: SourceChange[] = [];
    const tree: { itemId: string; parentId?: string; isFolder: boolean }[] = [];
    const deleted: string[] = [];
    for (const it of items) {
      const d = it.parentReference?.driveId ?? driveId ?? t.key;
      const docId = `${d}:${it.id}`;
      if (it.deleted) {
        deleted.push(docId);
        out.push({ kind: "remove", docId });
        continue;
      }
      const parentId = it.parentReference?.id ? `${d}:${it.parentReference.id}` : undefined;
      if (it.folder || it.root || it.package) {
        tree.push({ itemId: docId, parentId, isFolder: true });
        continue;
      }
      if (!it.file) continue;
      tree.push({ itemId: docId, parentId, isFolder: false });
      const url = it["@microsoft.graph.downloadUrl"];
      if (url) this.downloads.set(docId, url);
      out.push({ kind: "upsert", entry: this.toEntry(it, d, docId) });
    }
    await this.opts.tree.put(tree);
    if (deleted.length > 0) {
      // A folder's documents go with it; Graph reports only the folder.
      const { files } = await this.opts.tree.removeWithDescendants(deleted);
      const direct = new Set(deleted);
      for (const f of files) if (!direct.has(f)) out.push({ kind: "remove", docId: f });
    }
    return out;
  }

  private toEntry(it: DriveItem, driveId: string, docId: string): SourceEntry {
    const name = it.name ?? it.id;
    const size = Number(it.size ?? 0);
    const mime = it.file?.mimeType ?? "";
    const entry: SourceEntry = {
      docId,
      name,
      title: name,
      uri: it.webUrl ?? "",
      // cTag changes with the content only (a sharing change keeps it; the ACL is compared apart).
      version: `${it.cTag ?? it.eTag ?? it.lastModifiedDateTime ?? ""}:${size}`,
      modifiedAt: it.lastModifiedDateTime ? Date.parse(it.lastModifiedDateTime) : 0,
      size,
      mime,
      extra: { driveId, itemId: it.id },
    };
    if (size > this.opts.maxFileBytes) {
      entry.skip = {
        reason: `file is too large (${formatBytes(size)}; the limit is ${formatBytes(this.opts.maxFileBytes)})`,
        permanent: true,
      };
    } else if (!isExtractable(name, mime)) {
      const ext = /\.[^./]+$/.exec(name)?.[0];
      entry.skip = {
        reason: `unsupported file type ${ext ?? `(no extension, ${mime || "unknown type"})`}`,
        permanent: true,
      };
    }
    return entry;
  }

  /** SharePoint sites the person follows (`/me/followedSites`). */
  async followedSites(signal?: AbortSignal): Promise<{ id: string; name: string; webUrl?: string }[]> {
    const out: { id: string; name: string; webUrl?: string }[] = [];
    let link: string | undefined = "/me/followedSites";
    while (link) {
      const path: string = link;
      const r = (await this.api.call("followedSites", (c) => c.api(path).get(), signal)) as {
        value?: { id: string; displayName?: string; name?: string; webUrl?: string }[];
        "@odata.nextLink"?: string;
      };
      for (const s of r.value ?? [])
        out.push({ id: s.id, name: s.displayName ?? s.name ?? s.id, webUrl: s.webUrl });
      link = r["@odata.nextLink"];
    }
    return out;
  }

  async permissions(
    entry: SourceEntry,
    ctx: SourceContext = {},
  ): Promise<{ acl: Principal[]; notes?: string[] }> {
    const { driveId, itemId } = ids(entry);
    const perms: GraphPermission[] = [];
    let link: string | undefined =
      `/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}/permissions`;
    try {
      while (link) {
        const path: string = link;
        const r = (await this.api.call("permissions", (c) => c.api(path).get(), ctx.signal)) as {
          value?: GraphPermission[];
          "@odata.nextLink"?: string;
        };
        perms.push(...(r.value ?? []));
        link = r["@odata.nextLink"];
      }
    } catch (err) {
      // An item reported by the feed that 404s now is gone (a "ghost").
      if (err instanceof GraphApiError && err.status === 404) throw new DocumentGoneError();
      if (err instanceof GraphApiError && err.status === 403) {
        return {
          acl: [],
          notes: ["its sharing cannot be read; only the person who connected OneDrive can use it"],
        };
      }
      throw err;
    }
    return aclFromGraphPermissions(perms, this.opts.tenantDomain);
  }

  async fetch(entry: SourceEntry, ctx: SourceContext = {}): Promise<SourceContent> {
    const { signal } = ctx;
    let url = this.downloads.get(entry.docId);
    this.downloads.delete(entry.docId);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        url ??= await this.freshDownloadUrl(entry, signal);
        try {
          const bytes = await this.api.download(url, signal);
          return { bytes, fileName: entry.name, mime: entry.mime };
        } catch (err) {
          if (!(err instanceof DownloadUrlExpiredError)) throw err;
          url = undefined;
        }
      }
      throw new SkipDocumentError(
        "OneDrive refused its download link twice; retried at the next sync",
        false,
      );
    } catch (err) {
      if (err instanceof GraphApiError && err.status === 404) throw new DocumentGoneError();
      if (err instanceof SourceUnavailableError && !err.rateLimited) {
        throw new SkipDocumentError(`download failed (${err.message}); retried at the next sync`, false);
      }
      throw err;
    }
  }

  /** Asks Graph for the item again: a new `@microsoft.graph.downloadUrl`. @throws DocumentGoneError on 404. */
  private async freshDownloadUrl(entry: SourceEntry, signal?: AbortSignal): Promise<string> {
    const { driveId, itemId } = ids(entry);
    const path = `/drives/${encodeURIComponent(driveId)}/items/${encodeURIComponent(itemId)}`;
    const it = (await this.api.call("item", (c) => c.api(path).get(), signal)) as DriveItem;
    const url = it["@microsoft.graph.downloadUrl"];
    if (!url) throw new SkipDocumentError("OneDrive offers no download for this item");
    return url;
  }
}

function startPath(t: DriveTarget): string {
  return t.key === "me"
    ? "/me/drive/root/delta"
    : `/sites/${encodeURIComponent(t.key.slice("site:".length))}/drive/root/delta`;
}

function ids(entry: SourceEntry): { driveId: string; itemId: string } {
  const driveId = String(entry.extra?.driveId ?? entry.docId.slice(0, entry.docId.lastIndexOf(":")));
  const itemId = String(entry.extra?.itemId ?? entry.docId.slice(entry.docId.lastIndexOf(":") + 1));
  return { driveId, itemId };
}
