import path from "node:path";
import { z } from "zod";

/**
 * Raised when the environment holds invalid settings. `message` has one line per bad value,
 * in the form `NAME: what is wrong`, and never contains the value itself (it may be a secret).
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyToUndefined, z.url({ error: "must be a URL" }).optional());
const int = (def: number, min: number, max: number) =>
  z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` })
      .default(def),
  );
const schema = z.object({
  NODE_ENV: optionalString,
  ATOM_DATA_DIR: z.preprocess(emptyToUndefined, z.string().default("./data")),
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: "must start with postgres:// or postgresql://" })
      .optional(),
  ),
  LANCEDB_URI: optionalString,
  PORT: int(3000, 0, 65535),
  HOST: z.preprocess(emptyToUndefined, z.string().default("0.0.0.0")),
  PUBLIC_URL: optionalUrl,
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
        error: "must be one of fatal, error, warn, info, debug, trace, silent",
      })
      .default("info"),
  ),
  ATOM_DOCS_DIR: optionalString,
  ATOM_SYNC_INTERVAL_SECONDS: int(300, 10, 86_400),
  ATOM_ENCRYPTION_KEY: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => /^[0-9a-fA-F]{64}$/.test(v.trim()) || /^[A-Za-z0-9+/_-]{43}=?$/.test(v.trim()), {
        error: "must be 32 bytes as 64 hex characters or base64 (openssl rand -base64 32)",
      })
      .optional(),
  ),
  ATOM_RETENTION_THREAD_DAYS: int(30, 1, 3650),
  ATOM_RETENTION_EVENT_DAYS: int(7, 1, 3650),
  ATOM_SYNC_CONCURRENCY: int(4, 1, 32),
  ATOM_SYNC_MAX_FILE_MB: int(50, 1, 2048),
  ATOM_ORG_DOMAINS: optionalString,
  ATOM_ANSWER_MIN_SCORE: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(1).optional()),
  /**
   * Lease of an inbound message job, seconds: a message whose process died (after the ack, before
   * the reply) is answered by another process — or by this one after a restart — this long after
   * its last heartbeat (renewed every third of it while the answer runs).
   */
  ATOM_INBOUND_LEASE_SECONDS: int(60, 2, 3600),

  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_CLIENT_ID: optionalString,
  SLACK_CLIENT_SECRET: optionalString,
  SLACK_STATE_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: optionalUrl,
  SLACK_ALLOWED_BOT_IDS: optionalString,

  MICROSOFT_APP_ID: optionalString,
  MICROSOFT_APP_PASSWORD: optionalString,
  MICROSOFT_APP_TYPE: z.preprocess(
    emptyToUndefined,
    z
      .enum(["MultiTenant", "SingleTenant", "UserAssignedMSI"], {
        error: "must be MultiTenant, SingleTenant or UserAssignedMSI",
      })
      .default("MultiTenant"),
  ),
  MICROSOFT_APP_TENANT_ID: optionalString,

  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_OAUTH_AUTHORIZE_URL: optionalUrl,
  GOOGLE_OAUTH_TOKEN_URL: optionalUrl,
  GOOGLE_DRIVE_API_URL: optionalUrl,

  DEEPGRAM_API_KEY: optionalString,
  DEEPGRAM_API_URL: optionalUrl,
  DEEPGRAM_MODEL: z.preprocess(emptyToUndefined, z.string().default("nova-3")),
  DEEPGRAM_LANGUAGE: optionalString,
  VOICE_MAX_BYTES: int(25 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
  VOICE_MAX_SECONDS: int(600, 1, 14_400),

  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_EMBEDDING_MODEL: z.preprocess(emptyToUndefined, z.string().default("text-embedding-3-small")),
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
});

type Env = z.infer<typeof schema>;

/** Validated, typed configuration of one Atom process. Paths are absolute. */
export interface Config {
  env: Env;
  dataDir: string;
  databaseUrl?: string;
  lancedbUri: string;
  port: number;
  host: string;
  publicUrl?: string;
  logLevel: Env["LOG_LEVEL"];
  docsDir?: string;
  syncIntervalSeconds: number;
}

/**
 * Reads and validates Atom's settings from an environment map (default `process.env`).
 * Embedded defaults: PGlite under `<ATOM_DATA_DIR>/pglite`, LanceDB under `<ATOM_DATA_DIR>/lancedb`.
 * @throws ConfigError listing every bad value, one line each.
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const env = parsed.data;
  const dataDir = path.resolve(env.ATOM_DATA_DIR);
  return {
    env,
    dataDir,
    databaseUrl: env.DATABASE_URL,
    lancedbUri: env.LANCEDB_URI ?? path.join(dataDir, "lancedb"),
    port: env.PORT,
    host: env.HOST,
    publicUrl: env.PUBLIC_URL,
    logLevel: env.LOG_LEVEL,
    docsDir: env.ATOM_DOCS_DIR ? path.resolve(env.ATOM_DOCS_DIR) : undefined,
    syncIntervalSeconds: env.ATOM_SYNC_INTERVAL_SECONDS,
  };
}

/** The id of the tenant that owns everything configured by environment (see DESIGN.md, Tenants). */
export const DEFAULT_TENANT = "default";
