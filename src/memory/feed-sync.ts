import { createHash } from "node:crypto";
import type { Db } from "../db/index.ts";
import { chunkDocument } from "./chunk.ts";
import { ExtractError, extractDocument } from "./extract/index.ts";
import {
  type ChangePage,
  CursorExpiredError,
  SkipDocumentError,
  type Source,
  type SourceContext,
  type SourceEntry,
} from "./sources/types.ts";
import type { ChunkStore } from "./store.ts";
import { forEachLimited, type SyncProblem, titleFromName } from "./sync.ts";
import type { ChunkDraft, DocumentMeta, Principal } from "./types.ts";

/**
 * Thrown by a source for a failure of the whole source (revoked grant, rate limit that outlasted
 * the retries, the service down): the sync stops, nothing is deleted, the cursor stays where it
 * was. Per-document failures use {@link SkipDocumentError} or {@link DocumentGoneError} instead.
 */
export class SourceUnavailableError extends Error {
  constructor(
    message: string,
    /** Wait before trying again, ms (Retry-After), when the source said so. */
    readonly retryAfterMs?: number,
    /** Throttled (429, rate-limit 403) rather than failing (5xx, network). */
    readonly rateLimited = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "SourceUnavailableError";
  }
}

/** Thrown by a source's fetch when the document no longer exists: it is removed from memory. */
export class DocumentGoneError extends Error {
  constructor(message = "the document no longer exists") {
    super(message);
    this.name = "DocumentGoneError";
  }
}

/** Where skipped files are remembered (implemented by the connections repository). */
export interface SkipRegistry {
  recordSkips(tenantId: string, sourceId: string, skips: SkipRecord[]): Promise<void>;
  clearSkips(tenantId: string, sourceId: string, docIds: string[]): Promise<void>;
  permanentSkips(tenantId: string, sourceId: string, docIds: string[]): Promise<Map<string, string>>;
  /** Entries of passing failures, retried at the start of the next sync. */
  retryable(tenantId: string, sourceId: string): Promise<unknown[]>;
}

/** A file not indexed, as remembered. */
export interface SkipRecord {
  docId: string;
  name: string;
  uri: string;
  version: string;
  reason: string;
  /** Permanent: not retried until the version changes. Otherwise `entry` is retried next sync. */
  permanent: boolean;
  entry?: SourceEntry;
}

/** Settings of one change-feed sync. */
export interface FeedSyncOptions {
  tenantId: string;
  /** The stored cursor; absent or null → a full listing. */
  cursor?: string | null;
  /**
   * Stores a cursor. Called only after every change it covers is written.
   * @returns false to stop (e.g. the connection was removed meanwhile).
   */
  commitCursor(cursor: string): Promise<boolean>;
  skips: SkipRegistry;
  /** Principals added to every document's ACL (the connecting user may always read what they synced). */
  ownerPrincipals?: Principal[];
  /** ACL of entries that carry none when the source cannot list permissions. */
  defaultAcl?: Principal[];
  /** Documents fetched and extracted at once (default 4). */
  concurrency?: number;
  /** Largest file fetched, bytes (default 50 MB). */
  maxFileBytes?: number;
  signal?: AbortSignal;
  /** Called when chunks were added or removed (vocabulary upkeep). */
  onChange?: () => void;
  /** Entries written per batch, in a full listing and within a page of changes (default 200). */
  batchSize?: number;
}

/** What one change-feed sync did. */
export interface FeedSyncSummary {
  source: string;
  mode: "full" | "incremental";
  /** Entries looked at (listed, or reported by the change feed). */
  scanned: number;
  added: number;
  updated: number;
  /** Documents whose sharing changed and whose text was not extracted again. */
  aclUpdated: number;
  unchanged: number;
  deleted: number;
  /** Documents whose content was downloaded or exported. */
  fetched: number;
  chunks: number;
  /** Files not indexed, with the reason. */
  skipped: SyncProblem[];
  /** Things that did not stop indexing but are worth telling (a permission without e-mail). */
  notes: SyncProblem[];
  /** Documents that failed for a reason that may pass (a 5xx export); retried at the next sync. */
  errors: SyncProblem[];
  /** Documents of the source in memory after the sync. */
  documents: number;
  durationMs: number;
}

interface Known {
  version: string;
  content_hash: string;
  acl: Principal[];
}

interface Prepared {
  entry: SourceEntry;
  meta: DocumentMeta;
  hash: string;
  chunks: ChunkDraft[];
  isNew: boolean;
}

/** Default largest file fetched, bytes. */
export const DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024;

/**
 * Syncs a change-feed source into memory (DESIGN.md, Sync):
 * - without a cursor (or when it expired) the source is listed in full; pages are written as
 *   they come, documents the listing no longer has are removed at the end, and only then is the
 *   listing's cursor committed — a crash mid-way leaves the old cursor (or none) and the next run
 *   lists again, skipping what was already written (same version);
 * - with a cursor, each page of changes is written and then its cursor committed;
 * - a document whose version is unchanged is not fetched; a sharing-only change updates its ACL
 *   without extracting it again; removed, trashed and unshared documents lose their chunks;
 * - skipped files are recorded with their reason; permanent skips are not retried until the
 *   version changes;
 * - a source-wide failure ({@link SourceUnavailableError}) stops the sync with nothing deleted
 *   and the cursor where it was.
 * @throws SourceUnavailableError, or the error of a document that failed transiently (after the
 *   rest of its page was written; the cursor was not committed).
 */
export async function syncFeed(
  db: Db,
  store: ChunkStore,
  source: Source,
  opts: FeedSyncOptions,
): Promise<FeedSyncSummary> {
  const started = performance.now();
  const { tenantId } = opts;
  await db.query(
    `INSERT INTO sources (tenant_id, source_id, kind, label) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, source_id) DO UPDATE SET label = EXCLUDED.label`,
    [tenantId, source.id, source.kind, source.label],
  );
  const summary: FeedSyncSummary = {
    source: source.id,
    mode: opts.cursor && source.changes ? "incremental" : "full",
    scanned: 0,
    added: 0,
    updated: 0,
    aclUpdated: 0,
    unchanged: 0,
    deleted: 0,
    fetched: 0,
    chunks: 0,
    skipped: [],
    notes: [],
    errors: [],
    documents: 0,
    durationMs: 0,
  };
  const ctx: SourceContext = { signal: opts.signal };
  const batchSize = opts.batchSize ?? 200;
  let changed = false;
  const apply = async (upserts: SourceEntry[], removes: string[]) => {
    if (await writeBatch(db, store, source, opts, summary, upserts, removes, ctx)) changed = true;
  };
  try {
    if (summary.mode === "incremental") {
      // Passing failures of earlier syncs first (the feed will not report them again).
      const retry = (await opts.skips.retryable(tenantId, source.id)) as SourceEntry[];
      if (retry.length > 0) await apply(retry, []);
      try {
        for await (const page of source.changes!(opts.cursor!, ctx)) {
          checkAborted(opts.signal);
          const { upserts, removes } = lastStateWins(page);
          // A page of up to 1000 changes is written in batches; its cursor only after the last.
          await apply(upserts.slice(0, batchSize), removes);
          for (let i = batchSize; i < upserts.length; i += batchSize)
            await apply(upserts.slice(i, i + batchSize), []);
          if (!(await opts.commitCursor(page.cursor))) break;
        }
      } catch (err) {
        if (!(err instanceof CursorExpiredError)) throw err;
        summary.mode = "full";
      }
    }
    if (summary.mode === "full") await fullListing(db, source, opts, apply, ctx);
    if (changed) await store.refreshIndex();
    summary.documents = await countDocuments(db, tenantId, source.id);
    await recordSourceState(db, tenantId, source.id, "ok", null);
    return summary;
  } catch (err) {
    if (changed) await store.refreshIndex().catch(() => {});
    await recordSourceState(db, tenantId, source.id, "failed", firstLine(err)).catch(() => {});
    throw err;
  } finally {
    summary.durationMs = performance.now() - started;
    if (changed) opts.onChange?.();
  }
}

/** Full listing: writes pages in batches, removes what it no longer lists, then commits its cursor. */
async function fullListing(
  db: Db,
  source: Source,
  opts: FeedSyncOptions,
  apply: (upserts: SourceEntry[], removes: string[]) => Promise<void>,
  ctx: SourceContext,
): Promise<void> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pending: SourceEntry[] = [];
  const batchSize = opts.batchSize ?? 200;
  for await (const page of source.list(ctx)) {
    checkAborted(opts.signal);
    for (const e of page.entries) {
      if (seen.has(e.docId)) continue;
      seen.add(e.docId);
      pending.push(e);
    }
    if (page.cursor) cursor = page.cursor;
    while (pending.length >= batchSize) await apply(pending.splice(0, batchSize), []);
  }
  if (pending.length > 0) await apply(pending, []);
  pending = [];
  const known = await db.query<{ doc_id: string }>(
    "SELECT doc_id FROM documents WHERE tenant_id = $1 AND source_id = $2",
    [opts.tenantId, source.id],
  );
  const gone = known.rows.map((r) => r.doc_id).filter((id) => !seen.has(id));
  for (let i = 0; i < gone.length; i += 500) await apply([], gone.slice(i, i + 500));
  // Skips of files the listing no longer has are forgotten too.
  const skipped = await db.query<{ doc_id: string }>(
    "SELECT doc_id FROM skipped_files WHERE tenant_id = $1 AND source_id = $2",
    [opts.tenantId, source.id],
  );
  await opts.skips.clearSkips(
    opts.tenantId,
    source.id,
    skipped.rows.map((r) => r.doc_id).filter((id) => !seen.has(id)),
  );
  if (cursor) await opts.commitCursor(cursor);
}

/** Within one page, the last change of a document wins (a feed may report one file twice). */
function lastStateWins(page: ChangePage): { upserts: SourceEntry[]; removes: string[] } {
  const last = new Map<string, SourceEntry | null>();
  for (const c of page.changes) {
    const id = c.kind === "upsert" ? c.entry.docId : c.docId;
    last.delete(id);
    last.set(id, c.kind === "upsert" ? c.entry : null);
  }
  const upserts: SourceEntry[] = [];
  const removes: string[] = [];
  for (const [id, e] of last) {
    if (e) upserts.push(e);
    else removes.push(id);
  }
  return { upserts, removes };
}

/**
 * Applies one batch: decides per entry (unchanged / ACL only / fetch / skip), fetches in bounded
 * parallel, embeds, then writes chunks first and the bookkeeping after.
 * @returns whether chunks changed.
 * @throws the first transient per-document error, after writing everything else of the batch.
 */
async function writeBatch(
  db: Db,
  store: ChunkStore,
  source: Source,
  opts: FeedSyncOptions,
  summary: FeedSyncSummary,
  upserts: SourceEntry[],
  removeIds: string[],
  ctx: SourceContext,
): Promise<boolean> {
  const { tenantId } = opts;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  summary.scanned += upserts.length + removeIds.length;
  const ids = [...upserts.map((e) => e.docId), ...removeIds];
  const known = await knownDocs(db, tenantId, source.id, ids);
  const permanent = await opts.skips.permanentSkips(
    tenantId,
    source.id,
    upserts.map((e) => e.docId),
  );
  const skips: SkipRecord[] = [];
  const gone: string[] = [];
  const skip = (e: SourceEntry, reason: string, isPermanent: boolean) => {
    const name = e.title ?? e.name;
    skips.push({
      docId: e.docId,
      name,
      uri: e.uri,
      version: e.version,
      reason,
      permanent: isPermanent,
      entry: e,
    });
    if (isPermanent) summary.skipped.push({ path: name, reason });
    else summary.errors.push({ path: name, reason });
  };
  const aclOnly: { entry: SourceEntry; acl: Principal[] }[] = [];
  const toFetch: { entry: SourceEntry; acl: Principal[] }[] = [];
  const removes = new Set(removeIds.filter((id) => known.has(id)));
  for (const e of upserts) {
    for (const n of e.notes ?? []) summary.notes.push({ path: e.title ?? e.name, reason: n });
    const prev = known.get(e.docId);
    if (e.skip) {
      skip(e, e.skip.reason, e.skip.permanent);
      continue;
    }
    if (!prev && permanent.get(e.docId) === e.version) {
      summary.skipped.push({ path: e.title ?? e.name, reason: "skipped before in this version" });
      continue;
    }
    if (e.size > maxBytes) {
      skip(e, `file is too large (${formatBytes(e.size)}; the limit is ${formatBytes(maxBytes)})`, true);
      continue;
    }
    let acl: Principal[];
    try {
      acl = await aclOf(source, e, opts, summary, ctx);
    } catch (err) {
      // A feed may report an item that is gone by the time its sharing is read (a Graph "ghost").
      if (!(err instanceof DocumentGoneError)) throw err;
      gone.push(e.docId);
      if (prev) removes.add(e.docId);
      continue;
    }
    if (prev && prev.version === e.version) {
      if (sameSet(prev.acl, acl)) summary.unchanged++;
      else aclOnly.push({ entry: e, acl });
    } else {
      toFetch.push({ entry: e, acl });
    }
  }

  const prepared: Prepared[] = [];
  const versionOnly: { entry: SourceEntry; acl: Principal[] }[] = [];
  let transient: unknown;
  await forEachLimited(toFetch, opts.concurrency ?? 4, async ({ entry, acl }) => {
    if (transient || opts.signal?.aborted) return;
    try {
      const content = await source.fetch(entry, ctx);
      summary.fetched++;
      if (content.bytes.length > maxBytes) {
        skip(
          entry,
          `file is too large (${formatBytes(content.bytes.length)}; the limit is ${formatBytes(maxBytes)})`,
          true,
        );
        return;
      }
      const hash = createHash("sha256").update(content.bytes).digest("hex");
      const prev = known.get(entry.docId);
      if (prev && prev.content_hash === hash) {
        versionOnly.push({ entry, acl });
        return;
      }
      const extracted = await extractDocument({
        bytes: content.bytes,
        fileName: content.fileName,
        mime: content.mime,
        maxBytes,
      });
      const chunks = chunkDocument(extracted);
      prepared.push({
        entry,
        hash,
        chunks,
        isNew: !prev,
        meta: {
          tenantId,
          source: source.id,
          docId: entry.docId,
          title: entry.title?.trim() || extracted.title?.trim() || titleFromName(entry.name),
          uri: entry.uri,
          mime: entry.mime ?? content.mime ?? "application/octet-stream",
          modifiedAt: entry.modifiedAt,
          acl,
        },
      });
    } catch (err) {
      if (err instanceof SkipDocumentError) skip(entry, err.reason, err.permanent);
      else if (err instanceof ExtractError) skip(entry, err.reason, true);
      else if (err instanceof DocumentGoneError) {
        gone.push(entry.docId);
        if (known.has(entry.docId)) removes.add(entry.docId);
      } else if (stopsTheSync(err, opts.signal)) transient ??= err;
      // Anything else concerns this document only: it is retried at the next sync, and the rest
      // of the source goes on (one bad file never blocks the feed).
      else skip(entry, `could not be read: ${firstLine(err)}`, false);
    }
  });

  // Data first: every document written here loses whatever chunks it had (also chunks an
  // interrupted earlier run wrote without its bookkeeping), so nothing is stored twice.
  const rewrite = [...prepared.map((p) => p.entry.docId), ...removes];
  await store.deleteDocuments(tenantId, source.id, rewrite);
  await store.addRows(prepared.map((p) => ({ meta: p.meta, chunks: p.chunks })));
  for (const a of aclOnly) await store.setAcl(tenantId, source.id, a.entry.docId, a.acl);

  // Then the state that says the data is there.
  await db.transaction(async (tx) => {
    if (removes.size > 0) {
      await tx.query(
        "DELETE FROM documents WHERE tenant_id = $1 AND source_id = $2 AND doc_id = ANY($3::text[])",
        [tenantId, source.id, [...removes]],
      );
    }
    if (prepared.length > 0) {
      await tx.query(
        `INSERT INTO documents (tenant_id, source_id, doc_id, uri, title, mime, version, content_hash, modified_at, acl, chunk_count, indexed_at)
         SELECT $1, $2, d.doc_id, d.uri, d.title, d.mime, d.version, d.content_hash, to_timestamp(d.modified_ms / 1000.0), d.acl::jsonb, d.chunk_count, now()
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::double precision[], $10::text[], $11::int[])
           AS d(doc_id, uri, title, mime, version, content_hash, modified_ms, acl, chunk_count)
         ON CONFLICT (tenant_id, source_id, doc_id) DO UPDATE SET uri = EXCLUDED.uri, title = EXCLUDED.title,
           mime = EXCLUDED.mime, version = EXCLUDED.version, content_hash = EXCLUDED.content_hash,
           modified_at = EXCLUDED.modified_at, acl = EXCLUDED.acl, chunk_count = EXCLUDED.chunk_count, indexed_at = now()`,
        [
          tenantId,
          source.id,
          prepared.map((p) => p.entry.docId),
          prepared.map((p) => p.meta.uri),
          prepared.map((p) => p.meta.title),
          prepared.map((p) => p.meta.mime),
          prepared.map((p) => p.entry.version),
          prepared.map((p) => p.hash),
          prepared.map((p) => p.meta.modifiedAt),
          prepared.map((p) => JSON.stringify(p.meta.acl)),
          prepared.map((p) => p.chunks.length),
        ],
      );
    }
    for (const v of versionOnly) {
      await tx.query(
        "UPDATE documents SET version = $4, acl = $5::jsonb WHERE tenant_id = $1 AND source_id = $2 AND doc_id = $3",
        [tenantId, source.id, v.entry.docId, v.entry.version, JSON.stringify(v.acl)],
      );
    }
    for (const a of aclOnly) {
      await tx.query(
        "UPDATE documents SET acl = $4::jsonb WHERE tenant_id = $1 AND source_id = $2 AND doc_id = $3",
        [tenantId, source.id, a.entry.docId, JSON.stringify(a.acl)],
      );
    }
  });
  // ACL of version-only documents may have changed too.
  for (const v of versionOnly) {
    if (!sameSet(known.get(v.entry.docId)?.acl ?? [], v.acl)) {
      await store.setAcl(tenantId, source.id, v.entry.docId, v.acl);
    }
  }
  await opts.skips.clearSkips(tenantId, source.id, [
    ...prepared.map((p) => p.entry.docId),
    ...versionOnly.map((v) => v.entry.docId),
    ...aclOnly.map((a) => a.entry.docId),
    ...removeIds,
    ...gone,
  ]);
  await opts.skips.recordSkips(tenantId, source.id, skips);

  summary.added += prepared.filter((p) => p.isNew).length;
  summary.updated += prepared.filter((p) => !p.isNew).length;
  summary.aclUpdated += aclOnly.length;
  summary.unchanged += versionOnly.length;
  summary.deleted += removes.size;
  summary.chunks += prepared.reduce((s, p) => s + p.chunks.length, 0);
  if (transient) throw transient;
  return prepared.length > 0 || removes.size > 0 || aclOnly.length > 0;
}

/** The ACL of an entry: its own, or the source's permission sync, or the default; plus the owner. */
async function aclOf(
  source: Source,
  e: SourceEntry,
  opts: FeedSyncOptions,
  summary: FeedSyncSummary,
  ctx: SourceContext,
): Promise<Principal[]> {
  let acl = e.acl;
  if (!acl && source.permissions) {
    const r = await source.permissions(e, ctx);
    acl = r.acl;
    for (const n of r.notes ?? []) summary.notes.push({ path: e.title ?? e.name, reason: n });
  }
  const all = [...(acl ?? opts.defaultAcl ?? []), ...(opts.ownerPrincipals ?? [])].map((p) =>
    p.toLowerCase(),
  );
  return [...new Set(all)].sort();
}

async function knownDocs(
  db: Db,
  tenantId: string,
  sourceId: string,
  ids: string[],
): Promise<Map<string, Known>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<{
    doc_id: string;
    version: string;
    content_hash: string;
    acl: Principal[] | string;
  }>(
    `SELECT doc_id, version, content_hash, acl FROM documents
     WHERE tenant_id = $1 AND source_id = $2 AND doc_id = ANY($3::text[])`,
    [tenantId, sourceId, ids],
  );
  return new Map(
    r.rows.map((x) => [
      x.doc_id,
      {
        version: x.version,
        content_hash: x.content_hash,
        acl: (typeof x.acl === "string" ? JSON.parse(x.acl) : x.acl) as Principal[],
      },
    ]),
  );
}

async function countDocuments(db: Db, tenantId: string, sourceId: string): Promise<number> {
  const r = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM documents WHERE tenant_id = $1 AND source_id = $2",
    [tenantId, sourceId],
  );
  return Number(r.rows[0]?.n ?? 0);
}

async function recordSourceState(
  db: Db,
  tenantId: string,
  sourceId: string,
  status: string,
  error: string | null,
): Promise<void> {
  await db.query(
    "UPDATE sources SET last_sync_at = now(), last_status = $3, last_error = $4 WHERE tenant_id = $1 AND source_id = $2",
    [tenantId, sourceId, status, error],
  );
}

/**
 * Failures that stop the whole sync (nothing more is fetched; the cursor stays): throttling that
 * outlasted the retries, a refused grant, a stop request.
 */
function stopsTheSync(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  if (err instanceof SourceUnavailableError) return err.rateLimited;
  return (err as Error)?.name === "InvalidGrantError";
}

function sameSet(a: Principal[], b: Principal[]): boolean {
  const x = new Set(a.map((p) => p.toLowerCase()));
  const y = new Set(b.map((p) => p.toLowerCase()));
  return x.size === y.size && [...x].every((p) => y.has(p));
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("sync aborted");
}

function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return (m.split("\n")[0] ?? "").slice(0, 300);
}

/** "2.0 GB", "50 MB", "12 KB". */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${Math.round(n / 1024 ** 2)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
