import { countHit } from "../db/rate-limits.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import { rateLimitedTotal } from "../observability/metrics.ts";

/** What is limited. */
export type LimitKind = "question" | "transcription";

/** Limits per hour; 0 means unlimited. */
export interface RateLimitSettings {
  questionsPerUser: number;
  questionsPerWorkspace: number;
  transcriptionsPerUser: number;
  transcriptionsPerWorkspace: number;
  /** Window length, ms (default one hour). */
  windowMs?: number;
}

/** The answer of a check: allowed, or refused with the scope that was full and when to retry. */
export type LimitDecision =
  | { ok: true }
  | { ok: false; scope: "user" | "workspace"; retryAfterSeconds: number };

/** Checks and counts requests against the limits. */
export interface RateLimiter {
  check(kind: LimitKind, who: { tenantId: string; platform: string; userId: string }): Promise<LimitDecision>;
}

/**
 * Fixed-window limits per user and per workspace, counted in Postgres (`rate_limit_hits`) so
 * every replica shares them. The user's window is checked first; a refused request does not use
 * up the workspace's allowance. A refusal is counted in `atom_rate_limited_total{kind,scope}`.
 * When the database fails the request is allowed (logged): limits never take Atom down.
 */
export function createRateLimiter(deps: {
  db: Db;
  logger: Logger;
  settings: RateLimitSettings;
  now?: () => number;
}): RateLimiter {
  const windowMs = deps.settings.windowMs ?? 3_600_000;
  const now = deps.now ?? Date.now;
  const limits: Record<LimitKind, { user: number; workspace: number }> = {
    question: { user: deps.settings.questionsPerUser, workspace: deps.settings.questionsPerWorkspace },
    transcription: {
      user: deps.settings.transcriptionsPerUser,
      workspace: deps.settings.transcriptionsPerWorkspace,
    },
  };
  return {
    async check(kind, who) {
      const t = now();
      const start = Math.floor(t / windowMs) * windowMs;
      const windowStart = new Date(start);
      const retryAfterSeconds = Math.max(1, Math.ceil((start + windowMs - t) / 1000));
      const { user, workspace } = limits[kind];
      try {
        if (user > 0) {
          const n = await countHit(deps.db, {
            tenantId: who.tenantId,
            scope: `${kind}:user:${who.tenantId}:${who.platform}:${who.userId}`,
            windowStart,
          });
          if (n > user) {
            rateLimitedTotal.inc({ kind, scope: "user" });
            return { ok: false, scope: "user", retryAfterSeconds };
          }
        }
        if (workspace > 0) {
          const n = await countHit(deps.db, {
            tenantId: who.tenantId,
            scope: `${kind}:workspace:${who.tenantId}`,
            windowStart,
          });
          if (n > workspace) {
            rateLimitedTotal.inc({ kind, scope: "workspace" });
            return { ok: false, scope: "workspace", retryAfterSeconds };
          }
        }
      } catch (err) {
        deps.logger.warn({ err, kind }, "rate limit check failed; allowing the request");
      }
      return { ok: true };
    },
  };
}

/** The friendly reply text for a refused request. */
export function limitText(kind: LimitKind, d: Extract<LimitDecision, { ok: false }>): string {
  const mins = Math.ceil(d.retryAfterSeconds / 60);
  const when = mins <= 1 ? "in a minute" : `in about ${mins} minutes`;
  const what = kind === "question" ? "questions" : "voice notes";
  return d.scope === "user"
    ? `You've sent a lot of ${what} in the last hour, so I'm taking a short break from yours. Please try again ${when}.`
    : `This workspace has reached its hourly limit for ${what}. Please try again ${when}.`;
}
