#!/usr/bin/env node
// Entry point of the `atom` command. Runs the compiled build (`npm run build` → dist/) when it is
// there and newer than every source file, else loads the TypeScript sources through tsx (which
// costs ~35 MB of resident memory and compile time at start). ATOM_COMPILED=1 requires the build
// (container images); ATOM_COMPILED=0 always runs the sources.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// LanceDB's full-text index build can deadlock when its compute pool has a single thread, which
// is what it picks on hosts with 4 CPUs or fewer (see src/memory/store.ts).
if (!process.env.LANCE_CPU_THREADS && os.availableParallelism() <= 4) process.env.LANCE_CPU_THREADS = "4";

const root = path.resolve(import.meta.dirname, "..");
const stamp = path.join(root, "dist", ".built");

/** Whether dist/ was built after the last change to src/ (mtimes). */
function buildIsCurrent() {
  let built;
  try {
    built = fs.statSync(stamp).mtimeMs;
  } catch {
    return false;
  }
  const src = path.join(root, "src");
  for (const f of fs.readdirSync(src, { recursive: true })) {
    if (fs.statSync(path.join(src, String(f))).mtimeMs > built) return false;
  }
  return true;
}

const mode = process.env.ATOM_COMPILED;
if (mode === "1" && !fs.existsSync(stamp)) {
  console.error("ATOM_COMPILED=1 but there is no build: run `npm run build` first.");
  process.exit(1);
}
if (mode === "1" || (mode !== "0" && buildIsCurrent())) {
  const { main } = await import("../dist/cli.js");
  await main(process.argv.slice(2));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../src/cli.ts");
  await main(process.argv.slice(2));
}
