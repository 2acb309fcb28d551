import { createHash } from "node:crypto";
import path from "node:path";
import type { Db } from "../db/index.ts";
import { chunkDocument } from "./chunk.ts";
import { ExtractError, extractDocument, isSupportedFile, mimeFromFileName } from "./extract/index.ts";
import type { Source, SourceEntry } from "./sources/types.ts";
import { type ChunkStore, eq } from "./store.ts";
import type { ChunkDraft, DocumentMeta, Principal } from "./types.ts";
import { ANYONE } from "./types.ts";

/** A file that was not indexed, and why. */
export interface SyncProblem {
  path: string;
  reason: string;
}

/** Progress of a running sync (called after each processed document). */
export interface SyncProgress {
  total: number;
  done: number;
  errors: number;
  current?: string;
}

/** What one sync did. */
export interface SyncSummary {
  source: string;
  /** Documents the source listed. */
  scanned: number;
  added: number;
  updated: number;
  unchanged: number;
  deleted: number;
  /** Chunks written by this sync. */
  chunks: number;
  /** Files of a type Atom does not read (not an error). */
  skipped: SyncProblem[];
  /** Files that could not be read; their previous version, if any, stays in memory. */
  errors: SyncProblem[];
  durationMs: number;
}

export interface SyncOptions {
  tenantId: string;
  /** Readers of documents that carry no ACL of their own (default: everyone in the tenant). */
  defaultAcl?: Principal[];
  /** Documents fetched and extracted at once. */
  concurrency?: number;
  onProgress?: (p: SyncProgress) => void;
  /** Called with the tenant's chunk texts that were removed and added (vocabulary upkeep). */
  onChange?: () => void;
}

interface KnownDoc {
  doc_id: string;
  version: string;
  content_hash: string;
}

interface Prepared {
  entry: SourceEntry;
  meta: DocumentMeta;
  hash: string;
  chunks: ChunkDraft[];
  isNew: boolean;
}

/**
 * Incremental sync of one source into memory (DESIGN.md, Sync):
 * - a document whose `version` is unchanged is not fetched or extracted again;
 * - a changed one is fetched; if its bytes hash the same, only its version is updated, otherwise
 *   it is re-extracted and exactly its own chunks are replaced;
 * - a document the source no longer lists loses its chunks and its row;
 * - an unreadable document is reported in `errors` and its previous chunks stay;
 * - the FTS index is refreshed and the source's state committed after the data is written.
 */
export async function syncSource(
  db: Db,
  store: ChunkStore,
  source: Source,
  opts: SyncOptions,
): Promise<SyncSummary> {
  const started = performance.now();
  const { tenantId } = opts;
  const acl = opts.defaultAcl ?? [ANYONE];
  await db.query(
    `INSERT INTO sources (tenant_id, source_id, kind, label) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tenant_id, source_id) DO UPDATE SET label = EXCLUDED.label`,
    [tenantId, source.id, source.kind, source.label],
  );
  const summary: SyncSummary = {
    source: source.id,
    scanned: 0,
    added: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    chunks: 0,
    skipped: [],
    errors: [],
    durationMs: 0,
  };
  try {
    const known = new Map(
      (
        await db.query<KnownDoc>(
          "SELECT doc_id, version, content_hash FROM documents WHERE tenant_id = $1 AND source_id = $2",
          [tenantId, source.id],
        )
      ).rows.map((r) => [r.doc_id, r]),
    );
    const listed: SourceEntry[] = [];
    for await (const page of source.list()) listed.push(...page.entries);
    summary.scanned = listed.length;
    const seen = new Set<string>();
    const todo: SourceEntry[] = [];
    for (const entry of listed) {
      if (!isSupportedFile(entry.name)) {
        summary.skipped.push({
          path: entry.uri,
          reason: `unsupported file type ${path.extname(entry.name) || "(none)"}`,
        });
        continue;
      }
      seen.add(entry.docId);
      const prev = known.get(entry.docId);
      if (prev && prev.version === entry.version) summary.unchanged++;
      else todo.push(entry);
    }
    const removed = [...known.keys()].filter((id) => !seen.has(id));

    const progress: SyncProgress = { total: todo.length, done: 0, errors: 0 };
    const versionOnly: { entry: SourceEntry }[] = [];
    const prepared: Prepared[] = [];
    await forEachLimited(todo, opts.concurrency ?? 4, async (entry) => {
      progress.current = entry.uri;
      try {
        const { bytes } = await source.fetch(entry);
        const hash = createHash("sha256").update(bytes).digest("hex");
        const prev = known.get(entry.docId);
        if (prev && prev.content_hash === hash) {
          versionOnly.push({ entry });
        } else {
          const extracted = await extractDocument({ bytes, fileName: entry.name });
          const chunks = chunkDocument(extracted);
          const meta: DocumentMeta = {
            tenantId,
            source: source.id,
            docId: entry.docId,
            title: extracted.title?.trim() || titleFromName(entry.uri),
            uri: entry.uri,
            mime: mimeFromFileName(entry.name),
            modifiedAt: entry.modifiedAt,
            acl: entry.acl ?? acl,
          };
          prepared.push({ entry, meta, hash, chunks, isNew: !prev });
        }
      } catch (err) {
        progress.errors++;
        summary.errors.push({ path: entry.uri, reason: problemReason(err) });
      }
      progress.done++;
      opts.onProgress?.({ ...progress });
    });

    // Data first: chunks of changed documents are replaced, removed documents deleted.
    const replacedIds = prepared.filter((p) => !p.isNew).map((p) => p.entry.docId);
    // A "new" document may already have chunks when an earlier sync wrote them but failed before
    // committing its state; they are replaced too, so nothing is stored twice.
    const newIds = prepared.filter((p) => p.isNew).map((p) => p.entry.docId);
    const sourceHasChunks =
      newIds.length > 0 &&
      (await store.count(`${eq("tenant_id", tenantId)} AND ${eq("source", source.id)}`)) > 0;
    await store.deleteDocuments(tenantId, source.id, [
      ...replacedIds,
      ...(sourceHasChunks ? newIds : []),
      ...removed,
    ]);
    const batch: { meta: DocumentMeta; chunks: ChunkDraft[] }[] = [];
    let batchRows = 0;
    for (const p of prepared) {
      batch.push({ meta: p.meta, chunks: p.chunks });
      batchRows += p.chunks.length;
      if (batchRows >= 5000) {
        await store.addRows(batch.splice(0));
        batchRows = 0;
      }
    }
    await store.addRows(batch);
    await store.refreshIndex();

    // Then the state that says the data is there.
    await db.transaction(async (tx) => {
      if (removed.length > 0) {
        await tx.query(
          "DELETE FROM documents WHERE tenant_id = $1 AND source_id = $2 AND doc_id = ANY($3::text[])",
          [tenantId, source.id, removed],
        );
      }
      for (const group of groups(prepared, 500)) {
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
            group.map((p) => p.entry.docId),
            group.map((p) => p.meta.uri),
            group.map((p) => p.meta.title),
            group.map((p) => p.meta.mime),
            group.map((p) => p.entry.version),
            group.map((p) => p.hash),
            group.map((p) => p.meta.modifiedAt),
            group.map((p) => JSON.stringify(p.meta.acl)),
            group.map((p) => p.chunks.length),
          ],
        );
      }
      for (const { entry } of versionOnly) {
        await tx.query(
          "UPDATE documents SET version = $4 WHERE tenant_id = $1 AND source_id = $2 AND doc_id = $3",
          [tenantId, source.id, entry.docId, entry.version],
        );
      }
    });
    summary.added = prepared.filter((p) => p.isNew).length;
    summary.updated = prepared.length - summary.added;
    summary.unchanged += versionOnly.length;
    summary.deleted = removed.length;
    summary.chunks = prepared.reduce((s, p) => s + p.chunks.length, 0);
    summary.durationMs = performance.now() - started;
    await recordSourceState(db, tenantId, source.id, summary.errors.length > 0 ? "partial" : "ok", summary);
    if (prepared.length > 0 || removed.length > 0) opts.onChange?.();
    return summary;
  } catch (err) {
    await recordSourceState(db, tenantId, source.id, "failed", summary, problemReason(err)).catch(() => {});
    throw err;
  }
}

async function recordSourceState(
  db: Db,
  tenantId: string,
  sourceId: string,
  status: string,
  summary: SyncSummary,
  error?: string,
): Promise<void> {
  const lastError =
    error ?? (summary.errors.length > 0 ? `${summary.errors.length} file(s) could not be read` : null);
  await db.query(
    `UPDATE sources SET last_sync_at = now(), last_status = $3, last_error = $4, cursor = $5::jsonb
     WHERE tenant_id = $1 AND source_id = $2`,
    [tenantId, sourceId, status, lastError, JSON.stringify({ scanned: summary.scanned })],
  );
}

/** A readable reason for a failed document, without stack traces. */
function problemReason(err: unknown): string {
  if (err instanceof ExtractError) return err.reason;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "EACCES") return "permission denied";
  if (e?.code === "ENOENT") return "file disappeared during sync";
  return e?.message ? e.message.split("\n")[0]!.slice(0, 200) : String(err);
}

/**
 * A title from a path when the document has none: "a/leave-of-absence.md" → "leave of absence";
 * "travel/index.md" → "travel".
 */
export function titleFromName(uri: string): string {
  const parts = uri.split("/").filter(Boolean);
  let base = (parts.at(-1) ?? uri).replace(/\.[^.]+$/, "");
  if (/^(index|readme)$/i.test(base) && parts.length > 1) base = parts.at(-2)!;
  return base.replace(/[-_]+/g, " ").trim() || uri;
}

function* groups<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Runs `fn` over items with at most `limit` in flight. */
export async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
