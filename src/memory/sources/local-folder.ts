import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { mimeFromFileName } from "../extract/index.ts";
import type { ListingPage, Source, SourceContent, SourceEntry } from "./types.ts";

/**
 * A folder on local disk. Document ids and citation URIs are paths relative to the folder, with
 * `/` separators. Hidden files and folders (`.git`, `.DS_Store`) are ignored; symbolic links are
 * not followed.
 */
export class LocalFolderSource implements Source {
  readonly kind = "folder";
  readonly id: string;
  readonly label: string;
  readonly root: string;

  constructor(dir: string, opts: { id?: string } = {}) {
    this.root = path.resolve(dir);
    this.id = opts.id ?? folderSourceId(this.root);
    this.label = this.root;
  }

  /** The whole folder as one listing page (a folder has no change feed: it is listed at every sync). */
  async *list(): AsyncIterable<ListingPage> {
    yield { entries: await this.listAll() };
  }

  /** Every file under the folder, sorted by path. */
  async listAll(): Promise<SourceEntry[]> {
    const out: SourceEntry[] = [];
    const walk = async (dir: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true });
      await Promise.all(
        entries.map(async (e) => {
          if (e.name.startsWith(".")) return;
          const full = path.join(dir, e.name);
          if (e.isDirectory()) return walk(full);
          if (!e.isFile()) return;
          const st = await fs.stat(full);
          const rel = path.relative(this.root, full).split(path.sep).join("/");
          out.push({
            docId: rel,
            name: e.name,
            uri: rel,
            version: `${Math.trunc(st.mtimeMs)}:${st.size}`,
            modifiedAt: st.mtimeMs,
            size: st.size,
          });
        }),
      );
    };
    await walk(this.root);
    out.sort((a, b) => a.docId.localeCompare(b.docId));
    return out;
  }

  async fetch(entry: SourceEntry): Promise<SourceContent> {
    const bytes = await fs.readFile(path.join(this.root, ...entry.docId.split("/")));
    return { bytes, fileName: entry.name, mime: mimeFromFileName(entry.name) };
  }
}

/** Stable source id of a folder: `folder:<name>-<hash of the absolute path>`. */
export function folderSourceId(absDir: string): string {
  const hash = createHash("sha256").update(absDir).digest("hex").slice(0, 8);
  return `folder:${path.basename(absDir) || "root"}-${hash}`;
}
