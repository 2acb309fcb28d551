import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
/** The last stage of the Dockerfile (the image that runs). */
const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));

/** `ENV A=1 B=2` of the runtime stage. */
function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of runtime.matchAll(/^ENV (.+)$/gm))
    for (const pair of line[1]!.matchAll(/(\w+)=(\S+)/g)) env[pair[1]!] = pair[2]!;
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The image's start command and health check, run outside Docker (no engine here): the CMD of the
 * runtime stage with its ENV (data dir and port moved to a temp dir and a free port) serves
 * /healthz, the HEALTHCHECK command exits 0 against it, and SIGTERM stops it cleanly.
 */
describe("the container's start command, outside Docker", { timeout: 90_000 }, () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "atom-container-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("CMD serves /healthz, HEALTHCHECK passes, SIGTERM exits 0", async () => {
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(runtime)![1]!) as string[];
    const health = JSON.parse(/^HEALTHCHECK .*?CMD (\[.*\])$/m.exec(runtime)![1]!) as string[];
    const port = await freePort();
    const env = {
      PATH: process.env.PATH,
      HOME: dataDir,
      ...imageEnv(),
      ATOM_DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: "info",
    };
    expect(cmd[0]).toBe("node");
    const child = spawn(process.execPath, cmd.slice(1), {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const until = Date.now() + 60_000;
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) break;
        if (Date.now() > until || child.exitCode !== null)
          throw new Error(`server did not start:\n${stderr}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(stderr).toContain('"msg":"atom is listening"');
      expect(health[0]).toBe("node");
      const check = spawnSync(process.execPath, health.slice(1), { env, encoding: "utf8", timeout: 10_000 });
      expect(check.status).toBe(0);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    // With the server gone the health check fails, as Docker needs it to.
    const down = spawnSync(process.execPath, health.slice(1), { env, encoding: "utf8", timeout: 10_000 });
    expect(down.status).toBe(1);
  });
});
