import fs from "node:fs";
import path from "node:path";

/** The environment variable names `src/config.ts` reads (keys of its schema object, two-space indented). */
export function configSchemaKeys(): string[] {
  const text = fs.readFileSync(path.resolve(import.meta.dirname, "../../src/config.ts"), "utf8");
  return [...text.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
}
