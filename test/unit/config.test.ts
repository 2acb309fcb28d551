import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";

/** The problems of a ConfigError thrown by loadConfig(env). */
function problemsOf(env: NodeJS.ProcessEnv): { problems: string[]; message: string } {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return { problems: (err as ConfigError).problems, message: (err as Error).message };
  }
  throw new Error("expected loadConfig to throw");
}

describe("loadConfig", () => {
  it("defaults to the embedded stores under ATOM_DATA_DIR", () => {
    const c = loadConfig({ ATOM_DATA_DIR: "/tmp/atom-x" });
    expect(c.dataDir).toBe("/tmp/atom-x");
    expect(c.lancedbUri).toBe(path.join("/tmp/atom-x", "lancedb"));
    expect(c.databaseUrl).toBeUndefined();
    expect(c.port).toBe(3000);
    expect(c.host).toBe("0.0.0.0");
    expect(c.logLevel).toBe("info");
    expect(c.syncIntervalSeconds).toBe(300);
    expect(c.docsDir).toBeUndefined();
  });

  it("uses ./data (absolute) when ATOM_DATA_DIR is unset or empty", () => {
    expect(loadConfig({}).dataDir).toBe(path.resolve("data"));
    expect(loadConfig({ ATOM_DATA_DIR: "  " }).dataDir).toBe(path.resolve("data"));
    expect(loadConfig({}).lancedbUri).toBe(path.resolve("data", "lancedb"));
  });

  it("treats empty values as unset and resolves relative paths", () => {
    const c = loadConfig({ PORT: "", DATABASE_URL: "", ATOM_DOCS_DIR: "docs", LANCEDB_URI: "s3://b/x" });
    expect(c.port).toBe(3000);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.docsDir).toBe(path.resolve("docs"));
    expect(c.lancedbUri).toBe("s3://b/x");
  });

  it("accepts PostgreSQL URLs and numeric settings", () => {
    const c = loadConfig({ DATABASE_URL: "postgresql://u@h/db", PORT: "0", LOG_LEVEL: "debug" });
    expect(c.databaseUrl).toBe("postgresql://u@h/db");
    expect(c.port).toBe(0);
    expect(c.logLevel).toBe("debug");
  });

  it("reports one clear line per bad value", () => {
    expect(problemsOf({ PORT: "abc" }).problems).toEqual(["PORT: must be a number"]);
    expect(problemsOf({ PORT: "70000" }).problems).toEqual(["PORT: must be at most 65535"]);
    expect(problemsOf({ PORT: "80.5" }).problems).toEqual(["PORT: must be a whole number"]);
    expect(problemsOf({ DATABASE_URL: "mysql://x" }).problems).toEqual([
      "DATABASE_URL: must start with postgres:// or postgresql://",
    ]);
    const many = problemsOf({
      PORT: "abc",
      DATABASE_URL: "mysql://x",
      LOG_LEVEL: "loud",
      PUBLIC_URL: "not a url",
      ATOM_SYNC_INTERVAL_SECONDS: "1",
    });
    expect(many.problems).toHaveLength(5);
    for (const name of ["PORT", "DATABASE_URL", "LOG_LEVEL", "PUBLIC_URL", "ATOM_SYNC_INTERVAL_SECONDS"]) {
      expect(many.problems.filter((p) => p.startsWith(`${name}: `))).toHaveLength(1);
    }
    // The message lists each problem on its own line under one heading.
    expect(many.message.split("\n")).toHaveLength(6);
    for (const p of many.problems) expect(p).not.toContain("\n");
  });

  it("never echoes the bad value (it may be a secret)", () => {
    const secret = "s3cr3t-Pa55word-xoxb-123";
    const { message, problems } = problemsOf({
      DATABASE_URL: `mysql://admin:${secret}@db.internal/app`,
      PUBLIC_URL: `${secret} not a url`,
      SLACK_API_URL: `::${secret}`,
      OPENAI_BASE_URL: secret,
      LOG_LEVEL: secret,
      PORT: secret,
    });
    expect(problems).toHaveLength(6);
    expect(message).not.toContain(secret);
    expect(message).not.toContain("s3cr3t");
  });
  it("refuses an encryption key that is not 32 bytes, without echoing it", () => {
    const { problems, message } = problemsOf({ ATOM_ENCRYPTION_KEY: "short-secret-key" });
    expect(problems).toEqual([expect.stringMatching(/^ATOM_ENCRYPTION_KEY: must be 32 bytes/)]);
    expect(message).not.toContain("short-secret-key");
    expect(loadConfig({ ATOM_ENCRYPTION_KEY: "a".repeat(64) }).env.ATOM_ENCRYPTION_KEY).toBe("a".repeat(64));
    const b64 = Buffer.alloc(32, 7).toString("base64");
    expect(loadConfig({ ATOM_ENCRYPTION_KEY: b64 }).env.ATOM_ENCRYPTION_KEY).toBe(b64);
  });
});
