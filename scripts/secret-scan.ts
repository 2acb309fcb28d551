/**
 * The test run's secret check (issue 14, Logs): reads the captured output of a whole test run and
 * every log file the tests wrote, and fails when any fake secret the tests use
 * (test/helpers/secrets.ts) or any secret-shaped string (Slack tokens, OpenAI / Anthropic keys,
 * bearer tokens, JWTs, signed-link values) appears in them.
 *
 * Usage: `node --import tsx scripts/secret-scan.ts [--min-log-lines N] <file or dir>…`
 * Directories are read recursively (every file). `--min-log-lines N` also fails when the `*.log`
 * files under the given directories hold fewer than N JSON log lines in all — so a run whose logger
 * wrote nothing cannot pass by being empty.
 * Exit status: 0 clean; 1 a secret was found (each finding printed as file:line and the secret's
 * name, with the value masked); 2 usage error, unreadable input or too few log lines.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { knownSecrets, SECRET_SHAPES } from "../test/helpers/secrets.ts";

/** One secret found in a line. */
export interface Finding {
  file: string;
  /** 1-based line number. */
  line: number;
  /** What was found: `known secret` or a shape name. */
  kind: string;
  /** The value with all but its first 4 characters masked. */
  masked: string;
}

/** The value's first 4 characters and a mask (a finding never prints the secret it found). */
export function mask(value: string): string {
  return `${value.slice(0, 4)}…(${value.length} chars)`;
}

/** Secrets in one text: every occurrence of a known secret and of each secret shape, per line. */
export function scanText(text: string, file = "<text>", secrets: string[] = knownSecrets()): Finding[] {
  const out: Finding[] = [];
  // Colour codes of a terminal reporter never split a secret from the check.
  const lines = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    for (const s of secrets)
      if (s && l.includes(s)) out.push({ file, line: i + 1, kind: "known secret", masked: mask(s) });
    for (const { name, re } of SECRET_SHAPES) {
      const m = re.exec(l);
      if (m) out.push({ file, line: i + 1, kind: name, masked: mask(m[0]) });
    }
  }
  return out;
}

/** Every file under `p` (itself when it is a file). */
function filesUnder(p: string): string[] {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return [p];
  return fs
    .readdirSync(p, { withFileTypes: true })
    .flatMap((d) => filesUnder(path.join(p, d.name)))
    .sort();
}

/** Runs the check; returns the exit status and prints its findings. */
export function main(argv: string[], print: (s: string) => void = console.log): number {
  let minLogLines = 0;
  const inputs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--min-log-lines") minLogLines = Number(argv[++i]);
    else inputs.push(argv[i]!);
  }
  if (inputs.length === 0 || !Number.isFinite(minLogLines)) {
    print("usage: secret-scan.ts [--min-log-lines N] <file or dir>…");
    return 2;
  }
  const findings: Finding[] = [];
  let files = 0;
  let logLines = 0;
  for (const input of inputs) {
    if (!fs.existsSync(input)) {
      print(`secret-scan: ${input} does not exist`);
      return 2;
    }
    const isDir = fs.statSync(input).isDirectory();
    for (const f of filesUnder(input)) {
      const text = fs.readFileSync(f, "utf8");
      files++;
      if (isDir && f.endsWith(".log")) logLines += text.split("\n").filter((l) => l.startsWith("{")).length;
      findings.push(...scanText(text, f));
    }
  }
  for (const f of findings.slice(0, 50)) print(`${f.file}:${f.line}: ${f.kind} ${f.masked}`);
  if (findings.length > 50) print(`… and ${findings.length - 50} more`);
  if (findings.length > 0) {
    print(`secret-scan: FAILED — ${findings.length} secret(s) in ${files} file(s)`);
    return 1;
  }
  if (logLines < minLogLines) {
    print(`secret-scan: FAILED — only ${logLines} log lines were written (at least ${minLogLines} expected)`);
    return 2;
  }
  print(`secret-scan: no secret in ${files} file(s) (${logLines} log lines)`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
