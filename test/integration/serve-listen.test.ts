import fs from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { startServer } from "../../src/main.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { tempDir } from "../helpers/memory.ts";

describe("atom serve: a port that is already taken", () => {
  let dataDir: string;
  let blocker: net.Server;
  let port: number;

  beforeAll(async () => {
    dataDir = tempDir("atom-listen-");
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    port = (blocker.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("fails with one clear line naming the address and PORT, not an unhandled 'error' event", async () => {
    const config = loadConfig({ ATOM_DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1" });
    const err = await startServer(config, { logger: createLogger("silent") }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err?.message).toBe(
      `could not listen on 127.0.0.1:${port}: the address is already in use (set PORT to a free port, or stop the other process)`,
    );
  });

  it("leaves the data dir usable: a later start on a free port works", async () => {
    const config = loadConfig({ ATOM_DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1" });
    const server = await startServer(config, { logger: createLogger("silent") });
    try {
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("atom serve: ATOM_DOCS_DIR that is not a folder", () => {
  it("refuses to start with one sentence naming the variable (not failing sync jobs later)", async () => {
    const dataDir = tempDir("atom-docs-");
    const file = `${dataDir}/notes.md`;
    fs.writeFileSync(file, "# x");
    try {
      for (const [docs, message] of [
        [`${dataDir}/missing`, `ATOM_DOCS_DIR (${dataDir}/missing) does not exist`],
        [file, `ATOM_DOCS_DIR (${file}) is not a folder: point it at the documents' directory`],
      ] as const) {
        const config = loadConfig({
          ATOM_DATA_DIR: dataDir,
          ATOM_DOCS_DIR: docs,
          PORT: "0",
          HOST: "127.0.0.1",
        });
        await expect(startServer(config, { logger: createLogger("silent") })).rejects.toThrow(message);
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
