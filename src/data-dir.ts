/**
 * Checks `ATOM_DATA_DIR` before anything opens a store in it, so a wrong path or a read-only
 * volume ends with one sentence naming the folder instead of a library's low-level error
 * (PGlite reports a read-only directory as `ErrnoError { errno: 2 }`, printed as "[object Object]").
 */
import fs from "node:fs";
import path from "node:path";

/**
 * Creates `dir` if needed and checks it is a folder. When `writable` is set (the embedded database
 * lives there), also checks that this process may write to it and to its `pglite` folder.
 * @throws Error with a message naming `ATOM_DATA_DIR`, the folder and what is wrong.
 */
export function prepareDataDir(dir: string, opts: { writable: boolean }): void {
  const where = `ATOM_DATA_DIR (${dir})`;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`${where}: ${fsProblem(err)}`);
  }
  if (stat && !stat.isDirectory()) throw new Error(`${where} is not a folder: point it at a directory`);
  if (!stat) {
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new Error(`${where} could not be created: ${fsProblem(err)}`);
    }
  }
  if (!opts.writable) return;
  for (const d of [dir, path.join(dir, "pglite")]) {
    if (d !== dir && !fs.existsSync(d)) continue;
    try {
      fs.accessSync(d, fs.constants.W_OK);
    } catch (err) {
      throw new Error(
        `${where} is not writable${d === dir ? "" : ` (${path.basename(d)})`}: ${fsProblem(err)}; the embedded database needs to write there (or set DATABASE_URL)`,
      );
    }
  }
}

/** "permission denied", "read-only file system", … for the usual file system error codes. */
function fsProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOTDIR":
      return "a part of the path is a file, not a folder";
    case "ENOSPC":
      return "no space left on the device";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Checks that `ATOM_DOCS_DIR` names an existing, readable folder (`atom serve` indexes it).
 * @throws Error naming `ATOM_DOCS_DIR`, the folder and what is wrong.
 */
export function checkDocsDir(dir: string): void {
  const where = `ATOM_DOCS_DIR (${dir})`;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${where} does not exist`);
    throw new Error(`${where}: ${fsProblem(err)}`);
  }
  if (!stat.isDirectory()) throw new Error(`${where} is not a folder: point it at the documents' directory`);
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch (err) {
    throw new Error(`${where} cannot be read: ${fsProblem(err)}`);
  }
}
