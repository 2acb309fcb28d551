/**
 * Workflows (DESIGN.md, Core flows → Workflow): plain language → plan → Confirm → runs on
 * schedule, once across replicas, posting through the Messenger port. `createWorkflows` wires the
 * parts on an Atom process: the `workflow_run` job queue, the ticker, the chat commands and the
 * Confirm/Cancel buttons.
 */
import type { Bot } from "../bot/types.ts";
import type { Messenger, Platform } from "../core/ports.ts";
import type { JobWorker } from "../core/worker.ts";
import type { Db } from "../db/types.ts";
import type { Memory } from "../memory/memory.ts";
import type { Logger } from "../observability/logger.ts";
import { registerWorkflowCommands } from "./commands.ts";
import { WorkflowStore } from "./repository.ts";
import { createRunHandler } from "./runner.ts";
import { type RunJobPayload, WORKFLOW_QUEUE, WorkflowScheduler } from "./scheduler.ts";
import { type WorkflowModel, WorkflowService } from "./service.ts";
import type { Summarizer } from "./summarize.ts";

export { WORKFLOW_QUEUE } from "./scheduler.ts";
export type { WorkflowModel } from "./service.ts";
export type { Summarizer } from "./summarize.ts";

/** Settings of the workflow feature (from ATOM_WORKFLOW_* in config). */
export interface WorkflowSettings {
  /** Shortest allowed time between runs, s (ATOM_WORKFLOW_MIN_INTERVAL_SECONDS, default 3600). */
  minIntervalSeconds: number;
  /** Runs missed by up to this much run once, late (ATOM_WORKFLOW_CATCHUP_SECONDS, default 3600). */
  catchUpSeconds: number;
  /** Zone when the platform does not tell the person's (ATOM_WORKFLOW_DEFAULT_TIMEZONE, default UTC). */
  defaultTimeZone: string;
  /** Longest pause between looks for due workflows, ms (default 15 000). */
  maxSleepMs?: number;
}

/** The wired feature. */
export interface Workflows {
  store: WorkflowStore;
  service: WorkflowService;
  scheduler: WorkflowScheduler;
  /** Starts the ticker (the job worker is started by the process). */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Registers the `workflow_run` queue on `jobs`, the commands and buttons on `bot`, and builds the
 * scheduler (not started).
 */
export function createWorkflows(deps: {
  db: Db;
  bot: Bot;
  jobs: JobWorker;
  memory: Memory;
  messengers: Map<Platform, Messenger>;
  logger: Logger;
  settings: WorkflowSettings;
  /** The clock (tests pass a fake one). */
  now?: () => Date;
  /** Summaries by a model when a key exists; extractive otherwise. */
  summarizer?: Summarizer;
  /** Reading requests the grammar does not understand, when a key exists. */
  model?: WorkflowModel;
}): Workflows {
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger.child({ component: "workflows" });
  const store = new WorkflowStore(deps.db);
  const scheduler = new WorkflowScheduler(
    { db: deps.db, store, jobs: deps.jobs.store, logger, onEnqueued: () => deps.jobs.wake() },
    { catchUpMs: deps.settings.catchUpSeconds * 1000, maxSleepMs: deps.settings.maxSleepMs, now },
  );
  deps.jobs.register<RunJobPayload>(
    WORKFLOW_QUEUE,
    createRunHandler({
      store,
      memory: deps.memory,
      messengers: deps.messengers,
      logger,
      summarizer: deps.summarizer,
      now,
    }),
    { concurrency: 4, leaseMs: 30_000, backoff: { minMs: 2000, maxMs: 120_000 } },
  );
  const service = new WorkflowService({
    db: deps.db,
    store,
    jobs: deps.jobs.store,
    scheduler,
    logger,
    now,
    settings: {
      minIntervalSeconds: deps.settings.minIntervalSeconds,
      defaultTimeZone: deps.settings.defaultTimeZone,
    },
    model: deps.model,
    wakeJobs: () => deps.jobs.wake(),
  });
  registerWorkflowCommands(deps.bot, service);
  return {
    store,
    service,
    scheduler,
    start: () => scheduler.start(),
    stop: () => scheduler.stop(),
  };
}
