import type { Principal } from "../types.ts";

/** One document as a source lists it (before its bytes are fetched). */
export interface SourceEntry {
  /** Stable id within the source (relative path, Drive file id). */
  docId: string;
  /** File name, used to pick the extractor and as a fallback title. */
  name: string;
  /** Link or path shown in citations. */
  uri: string;
  /** Changes whenever the content may have changed (mtime+size, Drive version, Graph eTag). */
  version: string;
  /** ms since epoch. */
  modifiedAt: number;
  size: number;
  /** Readers; omitted means the source's default ACL. */
  acl?: Principal[];
}

/** A place documents come from: a local folder, Google Drive, OneDrive. */
export interface Source {
  /** Unique within a tenant, e.g. `folder:handbook`. */
  readonly id: string;
  readonly kind: string;
  /** Human name shown in status. */
  readonly label: string;
  /** Lists every document the source currently has. */
  list(): Promise<SourceEntry[]>;
  /** Fetches a document's bytes. */
  read(entry: SourceEntry): Promise<Buffer>;
}
