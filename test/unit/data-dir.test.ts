import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { prepareDataDir } from "../../src/data-dir.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

describe("ATOM_DATA_DIR checks before the stores open", () => {
  let base: string;
  beforeEach(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), "atom-datadir-"));
    fs.chmodSync(base, 0o755);
  });
  afterEach(() => {
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("creates a missing folder", () => {
    const dir = path.join(base, "a", "b");
    prepareDataDir(dir, { writable: true });
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });

  it("refuses a file with a sentence naming ATOM_DATA_DIR (not a raw EEXIST from mkdir)", () => {
    const file = path.join(base, "data");
    fs.writeFileSync(file, "x");
    expect(() => prepareDataDir(file, { writable: false })).toThrow(
      `ATOM_DATA_DIR (${file}) is not a folder: point it at a directory`,
    );
  });

  it("says when a part of the path is a file", () => {
    fs.writeFileSync(path.join(base, "f"), "x");
    const dir = path.join(base, "f", "data");
    expect(() => prepareDataDir(dir, { writable: true })).toThrow(
      `ATOM_DATA_DIR (${dir}): a part of the path is a file, not a folder`,
    );
  });

  it("refuses a read-only folder (and a read-only pglite folder in it) for the embedded database", () => {
    const dir = path.join(base, "data");
    fs.mkdirSync(path.join(dir, "pglite"), { recursive: true });
    fs.chmodSync(dir, 0o777);
    fs.chmodSync(path.join(dir, "pglite"), 0o555);
    // root may write anywhere: check as an unprivileged user then (uid/gid 65534, "nobody").
    const asRoot = process.getuid?.() === 0;
    const script = `import { prepareDataDir } from ${JSON.stringify(path.join(ROOT, "src/data-dir.ts"))};
try { prepareDataDir(${JSON.stringify(dir)}, { writable: true }); console.log("ok"); }
catch (e) { console.log(e.message); }
prepareDataDir(${JSON.stringify(dir)}, { writable: false }); console.log("read-only use ok");`;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir() },
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    expect(run.stderr).toBe("");
    expect(run.stdout.trim().split("\n")).toEqual([
      `ATOM_DATA_DIR (${dir}) is not writable (pglite): permission denied; the embedded database needs to write there (or set DATABASE_URL)`,
      "read-only use ok",
    ]);
  });
});
