import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin", "atom.js");

/** A running `atom serve` child process. */
export interface Served {
  child: ChildProcess;
  /** Its base URL, from the "atom is listening" log line. */
  url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

/**
 * Starts `atom serve` as a real child process with exactly `env` (plus PATH and HOME); resolves
 * once it logs that it is listening. Rejects when it exits first or does not start in `timeoutMs`.
 */
export function serveProcess(env: Record<string, string>, timeoutMs = 300_000): Promise<Served> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let started = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`atom serve did not start\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = started ? null : /"url":"(http:\/\/[^"]+)"[^\n]*atom is listening/.exec(out);
      if (m) {
        started = true;
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`atom serve exited with ${code}\n${out}`));
    });
  });
}

/** Resolves when `child` has exited (at once when it already has). */
export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}
