import fs from "node:fs";
import path from "node:path";

/**
 * Renders rows as a fixed-width text table; the first row is the header. Numbers are right-aligned,
 * text left-aligned.
 */
export function formatTable(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, String(c).length);
    });
  }
  const line = (row: (string | number)[]) =>
    row
      .map((c, i) => (typeof c === "number" ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const [head, ...body] = rows;
  if (!head) return "";
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/**
 * Writes `data` as pretty JSON to `<dir>/<name>-<UTC timestamp>.json` and `<dir>/<name>-latest.json`
 * (creating `dir`), and returns the timestamped path.
 */
export function writeResults(dir: string, name: string, data: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const file = path.join(dir, `${name}-${stamp}.json`);
  const json = `${JSON.stringify(data, null, 2)}\n`;
  fs.writeFileSync(file, json);
  fs.writeFileSync(path.join(dir, `${name}-latest.json`), json);
  return file;
}

/** Value of `--name <number>` in argv, or `def`. @throws Error when the value is not a number. */
export function numberArg(argv: readonly string[], name: string, def: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
