/**
 * The handler of `workflow_run` jobs: runs one recorded run with the version it was claimed with,
 * records the outcome, and tells the owner about missed and failed runs. Transient errors are
 * retried by the job worker with backoff; permanent ones (a channel that is gone, a revoked
 * token) fail at once.
 */
import { makeReply } from "../bot/reply.ts";
import type { Messenger, Platform } from "../core/ports.ts";
import { PermanentJobError, type JobHandler } from "../core/worker.ts";
import type { Logger } from "../observability/logger.ts";
import { type EngineDeps, executeRun, isPermanent } from "./engine.ts";
import type { WorkflowRow } from "./repository.ts";
import type { RunJobPayload } from "./scheduler.ts";

/** Sends a short notice to a workflow's owner (direct message); never throws. */
export async function tellOwner(
  messengers: Map<Platform, Messenger>,
  wf: WorkflowRow,
  text: string,
  logger: Logger,
): Promise<void> {
  const m = messengers.get(wf.origin.platform);
  if (!m) return;
  try {
    await m.send(
      { platform: wf.origin.platform, tenantId: wf.tenantId, userId: wf.origin.ownerId },
      makeReply({ intent: "workflow", text }),
    );
  } catch (err) {
    logger.warn({ err, workflowId: wf.id }, "telling the workflow owner failed");
  }
}

/** Creates the job handler of the `workflow_run` queue. */
export function createRunHandler(deps: EngineDeps & { now: () => Date }): JobHandler<RunJobPayload> {
  const { store, logger } = deps;
  return async (job) => {
    const run = await store.getRun(job.payload.runId);
    if (!run) return { ignored: "run not found" };
    if (["succeeded", "failed", "skipped"].includes(run.status))
      return { ignored: `run already ${run.status}` };
    const wf = await store.get(run.workflowId);
    if (!wf || wf.status === "deleted") {
      await store.finishRun(run.id, { status: "skipped", note: "the workflow was deleted" });
      return { skipped: "deleted" };
    }
    if (run.kind === "missed") {
      await tellOwner(
        deps.messengers,
        wf,
        `Workflow “${wf.name}”: ${run.note ?? "a run was missed while Atom was not running"}${wf.nextRunAt ? "" : ""}`,
        logger,
      );
      return { told: "owner", missed: run.scheduledFor.toISOString() };
    }
    if (wf.status === "paused" && (run.kind === "scheduled" || run.kind === "late")) {
      await store.finishRun(run.id, { status: "skipped", note: "the workflow was paused" });
      return { skipped: "paused" };
    }
    const version = (await store.versions(wf.id)).find((v) => v.version === run.version);
    if (!version) throw new PermanentJobError(`version ${run.version} of workflow ${wf.id} is gone`);
    await store.startRun(run.id, job.attempts);
    try {
      const out = await executeRun(deps, {
        workflow: wf,
        definition: version.definition,
        run,
        attempt: job.attempts,
        now: deps.now(),
        dryRunTo: run.kind === "dry_run" ? (run.requestedBy ?? wf.origin.ownerId) : undefined,
      });
      await store.finishRun(run.id, { status: "succeeded" });
      return out;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const permanent = isPermanent(err);
      const last = permanent || job.attempts >= job.maxAttempts;
      await store.finishRun(run.id, { status: last ? "failed" : "retrying", error: message, permanent });
      if (!last) throw err;
      if (run.kind !== "dry_run") {
        await tellOwner(
          deps.messengers,
          wf,
          `Workflow “${wf.name}” failed: ${message.slice(0, 300)}. Say “workflow why ${wf.name}” for details.`,
          logger,
        );
      }
      throw new PermanentJobError(message, { cause: err });
    }
  };
}
