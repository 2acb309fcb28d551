import type { Principal } from "../types.ts";

/**
 * The Source port: where documents come from — a local folder, Google Drive, OneDrive. Its verbs
 * follow the connector interfaces of Onyx (load / poll / slim listing / permission sync), so every
 * source has the same shape and one sync engine drives them all (memory/feed-sync.ts):
 *
 * | Onyx               | here                                   |
 * |--------------------|----------------------------------------|
 * | load_from_state    | {@link Source.list} (every document, in pages; the last page may carry the cursor the change feed continues from) |
 * | poll_source        | {@link Source.changes} (what changed since a stored cursor, page by page, each page with its own resume cursor) |
 * | slim listing       | {@link Source.list} entries carry id + version + ACL only; content is fetched separately, so pruning needs no downloads |
 * | permission sync    | {@link SourceEntry.acl} from the listing, or {@link Source.permissions} per document |
 * | document fetch     | {@link Source.fetch} |
 *
 * Rules the sync engine relies on: `docId` is stable for the life of the document; `version`
 * changes whenever the content may have changed and does NOT change for a sharing-only change
 * (the ACL is compared on its own); a cursor is opaque, and the engine stores it only after
 * the changes it covers are written.
 */

/** One document as a source lists it (before its bytes are fetched). */
export interface SourceEntry {
  /** Stable id within the source (relative path, Drive file id, Graph item id). */
  docId: string;
  /** File name, used to pick the extractor and as a fallback title. */
  name: string;
  /** Title shown in citations when the source knows it (Drive file name); default: from the name. */
  title?: string;
  /** Link or path shown in citations (Drive `webViewLink`, Graph `webUrl`, relative path). */
  uri: string;
  /** Changes whenever the content may have changed (mtime+size, Drive md5/revision, Graph cTag). */
  version: string;
  /** ms since epoch. */
  modifiedAt: number;
  /** Bytes; 0 when unknown (Google-native documents have no size). */
  size: number;
  /** MIME type as the source reports it (chooses the extractor when the name has no extension). */
  mime?: string;
  /**
   * Readers (principals). Omitted: the source's default ACL applies (local folder: everyone in the
   * tenant), or — for a source with {@link Source.permissions} — they are fetched per document.
   */
  acl?: Principal[];
  /**
   * When set, the document is listed but must not be indexed, for this reason ("a folder",
   * "shortcut target is not accessible", "file is too large (2.0 GB; the limit is 50 MB)").
   * `permanent` skips are not retried until the version changes.
   */
  skip?: { reason: string; permanent: boolean };
  /** Problems that did not stop indexing (e.g. "a permission has no e-mail; ignored"). */
  notes?: string[];
  /** Source-private data the fetch needs (export links, download URL, MIME type). */
  extra?: Record<string, unknown>;
}

/** One page of a full listing. */
export interface ListingPage {
  entries: SourceEntry[];
  /** Set on the last page by change-feed sources: where the change feed continues after this listing. */
  cursor?: string;
}

/** One change of a change feed. */
export type SourceChange =
  | { kind: "upsert"; entry: SourceEntry }
  /** The document is gone for this connection (deleted, trashed, unshared). */
  | { kind: "remove"; docId: string };

/** One page of a change feed. */
export interface ChangePage {
  changes: SourceChange[];
  /** Where the feed resumes after this page (committed once the page's changes are written). */
  cursor: string;
}

/** The content of one document. */
export interface SourceContent {
  bytes: Buffer;
  /** File name to pick the extractor by (e.g. `Budget.txt` for an exported Google Doc). */
  fileName: string;
  mime?: string;
}

/** What every call of a source gets. */
export interface SourceContext {
  /** Aborted when the sync must stop (lease lost, shutdown): stop early. */
  signal?: AbortSignal;
}

/**
 * Thrown by {@link Source.changes} when the stored cursor is no longer valid (Graph
 * `410 resyncRequired`, an expired Drive page token): the engine lists everything again, keeps
 * answering from the old index meanwhile, and removes what the new listing no longer has.
 */
export class CursorExpiredError extends Error {
  constructor(message = "the change-feed cursor expired; a full listing is needed") {
    super(message);
    this.name = "CursorExpiredError";
  }
}

/**
 * Thrown by a source for a document that cannot be indexed in its current version, e.g. a Google
 * Doc whose export is too large and has no usable export link. The sync records the reason and
 * goes on; `permanent` skips are not retried until the document changes.
 */
export class SkipDocumentError extends Error {
  constructor(
    readonly reason: string,
    readonly permanent = true,
  ) {
    super(reason);
    this.name = "SkipDocumentError";
  }
}

/** A place documents come from: a local folder, Google Drive, OneDrive. */
export interface Source {
  /** Unique within a tenant, e.g. `folder:handbook-1a2b3c4d`, `gdrive:<connection id>`. */
  readonly id: string;
  /** `folder`, `gdrive`, `onedrive`, … (the `in:` filters of questions map to kinds). */
  readonly kind: string;
  /** Human name shown in status. */
  readonly label: string;
  /** Lists every document the source currently has, in pages (Onyx load + slim listing). */
  list(ctx?: SourceContext): AsyncIterable<ListingPage>;
  /**
   * Fetches a document's content.
   * @throws SkipDocumentError for a document that cannot be indexed in this version.
   */
  fetch(entry: SourceEntry, ctx?: SourceContext): Promise<SourceContent>;
  /**
   * The change feed after `cursor` (Onyx poll). Absent for sources that are listed in full at
   * every sync (the local folder).
   * @throws CursorExpiredError when the cursor is no longer valid.
   */
  changes?(cursor: string, ctx?: SourceContext): AsyncIterable<ChangePage>;
  /**
   * Readers of one document when its entry came without an ACL (permission sync). A document
   * whose permissions cannot be read should be given to the connecting user only.
   */
  permissions?(entry: SourceEntry, ctx?: SourceContext): Promise<{ acl: Principal[]; notes?: string[] }>;
}
