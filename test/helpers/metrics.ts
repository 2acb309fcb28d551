/** Sum of every sample of a metric family whose labels contain `match` (exact `name`, no suffix). */
export function sample(text: string, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(m[3] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += Number(m[4]);
  }
  return total;
}
