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

/** Whether `tz` is an IANA time zone the runtime knows. */
const isTimeZone = (tz: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};
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
/**
 * An Entra (Azure AD) tenant id as Teams sends it in `conversation.tenantId`: a GUID. Lower-case
 * here because the list is lower-cased before the check.
 */
const ENTRA_TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
  /** Memory on S3 or an S3-compatible store (memory/object-store.ts). */
  LANCEDB_S3_ENDPOINT: optionalUrl,
  AWS_ENDPOINT_URL: optionalUrl,
  AWS_ACCESS_KEY_ID: optionalString,
  AWS_SECRET_ACCESS_KEY: optionalString,
  AWS_SESSION_TOKEN: optionalString,
  AWS_REGION: optionalString,
  AWS_DEFAULT_REGION: optionalString,
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
  ATOM_RETENTION_RUN_LOG_DAYS: int(90, 1, 3650),
  ATOM_RETENTION_AUDIT_DAYS: int(365, 30, 3650),
  ATOM_LIMIT_QUESTIONS_PER_USER_HOUR: int(60, 0, 100_000),
  ATOM_LIMIT_QUESTIONS_PER_WORKSPACE_HOUR: int(1000, 0, 1_000_000),
  ATOM_LIMIT_TRANSCRIPTIONS_PER_USER_HOUR: int(20, 0, 100_000),
  ATOM_LIMIT_TRANSCRIPTIONS_PER_WORKSPACE_HOUR: int(200, 0, 1_000_000),
  SENTRY_DSN: optionalString,
  SENTRY_ENVIRONMENT: optionalString,
  ATOM_SYNC_CONCURRENCY: int(4, 1, 32),
  /** Lease of a folder sync job, seconds: another replica takes over a sync this long after its replica died. */
  ATOM_SYNC_LEASE_SECONDS: int(120, 5, 3600),
  ATOM_SYNC_MAX_FILE_MB: int(50, 1, 2048),
  ATOM_ORG_DOMAINS: optionalString,
  ATOM_ANSWER_MIN_SCORE: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(1).optional()),
  /**
   * Lease of an inbound message job, seconds: a message whose process died (after the ack, before
   * the reply) is answered by another process — or by this one after a restart — this long after
   * its last heartbeat (renewed every third of it while the answer runs).
   */
  ATOM_INBOUND_LEASE_SECONDS: int(60, 2, 3600),
  ATOM_WORKFLOW_MIN_INTERVAL_SECONDS: int(3600, 1, 31 * 86_400),
  ATOM_WORKFLOW_CATCHUP_SECONDS: int(3600, 0, 7 * 86_400),
  ATOM_WORKFLOW_POLL_SECONDS: int(15, 1, 600),
  ATOM_WORKFLOW_DEFAULT_TIMEZONE: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine(isTimeZone, { error: "must be an IANA time zone such as Europe/Paris or UTC" })
      .default("UTC"),
  ),

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
      .default("SingleTenant"),
  ),
  MICROSOFT_APP_TENANT_ID: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((v) => v.trim().toLowerCase())
      .refine((v) => ENTRA_TENANT_ID.test(v), {
        error: "must be the Directory (tenant) id of the bot's app registration (a GUID)",
      })
      .optional(),
  ),
  ATOM_TEAMS_TENANTS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .transform((v) =>
        v
          .split(",")
          .map((t) => t.trim().toLowerCase())
          .filter((t) => t.length > 0),
      )
      .refine((list) => list.every((t) => ENTRA_TENANT_ID.test(t)), {
        error: "must be a comma-separated list of Entra tenant ids (GUIDs)",
      })
      .optional(),
  ),
  ATOM_TEAMS_OTHER_TENANTS: z.preprocess(
    emptyToUndefined,
    z.enum(["refuse", "separate"], { error: "must be refuse or separate" }).default("refuse"),
  ),

  GOOGLE_CLIENT_ID: optionalString,
  GOOGLE_CLIENT_SECRET: optionalString,
  GOOGLE_OAUTH_AUTHORIZE_URL: optionalUrl,
  GOOGLE_OAUTH_TOKEN_URL: optionalUrl,
  GOOGLE_DRIVE_API_URL: optionalUrl,

  // OneDrive / SharePoint (#11): default to the Teams bot's app, which can serve both.
  MICROSOFT_GRAPH_CLIENT_ID: optionalString,
  MICROSOFT_GRAPH_CLIENT_SECRET: optionalString,
  MICROSOFT_GRAPH_TENANT: z.preprocess(emptyToUndefined, z.string().default("common")),
  MICROSOFT_LOGIN_URL: optionalUrl,
  MICROSOFT_GRAPH_API_URL: optionalUrl,

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

  // --- bring your own AI keys (#12): see src/ai/ and README "AI keys" ---
  /** Earlier master keys (comma-separated) that still open values sealed before a rotation. */
  ATOM_ENCRYPTION_KEY_PREVIOUS: optionalString,
  /** Answer model when a workspace chose none (default per provider, see src/ai/models.ts). */
  ATOM_ANSWER_MODEL: optionalString,
  /** Tokens per workspace per calendar month (UTC) after which answers are extractive; none by default. */
  ATOM_MONTHLY_TOKEN_CAP: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).optional()),
  /** How long a generated answer may take before the extractive answer is given, seconds. */
  ATOM_AI_TIMEOUT_SECONDS: int(30, 1, 600),
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
