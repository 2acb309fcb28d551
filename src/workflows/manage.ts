/**
 * The management commands: `workflows`, `workflow history|rollback|why|run|pause|resume|delete|
 * rename|edit`, `workflow templates`. Reading is open to everyone in the workspace; changing a
 * workflow is for its owner or a workspace admin.
 */
import { recordAudit } from "../db/audit.ts";
import type { Reply } from "../bot/reply.ts";
import type { ChatMessage } from "../core/ports.ts";
import { formatWhen } from "./clock.ts";
import { notice } from "./plan.ts";
import { stepLines } from "./plan.ts";
import type { RunRow, StepLog, WorkflowRow } from "./repository.ts";
import { describeTrigger, nextRun } from "./schedule.ts";
import { mayChange, notAllowed, type WorkflowService } from "./service.ts";
import { TEMPLATES } from "./templates.ts";

const STATUS_WORDS: Record<string, string> = {
  succeeded: "succeeded",
  failed: "failed",
  retrying: "failing, being retried",
  skipped: "skipped",
  missed: "missed",
  queued: "waiting to run",
  running: "running",
};

/** `workflows`: the workspace's workflows with schedule, next run, last run and owner. */
export async function listReply(svc: WorkflowService, msg: ChatMessage): Promise<Reply> {
  const all = await svc.deps.store.list(msg.tenantId);
  if (all.length === 0)
    return notice(
      "There are no workflows yet. Try “every weekday at 9 post a digest of new documents here”.",
    );
  const now = svc.deps.now();
  const items = all.map((w) => {
    const tz = w.definition.trigger.tz;
    const state = w.status === "active" ? "" : ` [${w.status}]`;
    const next = w.status === "active" && w.nextRunAt ? formatWhen(w.nextRunAt, tz, now) : "—";
    const last = w.lastRunAt
      ? `${STATUS_WORDS[w.lastRunStatus ?? ""] ?? w.lastRunStatus} ${formatWhen(w.lastRunAt, tz, now)}`
      : "never ran";
    return `${w.name}${state} — ${describeTrigger(w.definition.trigger, now)}; next: ${next}; last run: ${last}; owner: ${w.origin.ownerEmail ?? w.origin.ownerId}; v${w.activeVersion}`;
  });
  return {
    ...notice([`Workflows (${all.length}):`, ...items.map((i) => `• ${i}`)].join("\n"), "workflow.list"),
    blocks: [
      { type: "text", text: `Workflows (${all.length}):` },
      { type: "list", items },
    ],
  };
}

/** `workflow templates`. */
export function templatesReply(): Reply {
  const items = TEMPLATES.map((t) => `${t.title}: ${t.description} Say “${t.example}”.`);
  return {
    ...notice(["Templates:", ...items.map((i) => `• ${i}`)].join("\n"), "workflow.templates"),
    blocks: [
      { type: "text", text: "Templates:" },
      { type: "list", items },
    ],
  };
}

/** `workflow history <name>`: every version, the active one marked, and the last runs. */
export async function historyReply(svc: WorkflowService, wf: WorkflowRow): Promise<Reply> {
  const now = svc.deps.now();
  const versions = await svc.deps.store.versions(wf.id);
  const runs = await svc.deps.store.runs(wf.id, 5);
  const tz = wf.definition.trigger.tz;
  const lines = versions.map(
    (v) =>
      `v${v.version}${v.version === wf.activeVersion ? " (active)" : ""} — ${formatWhen(v.createdAt, tz, now)} by ${v.createdBy}${v.note ? `, ${v.note}` : ""}: ${describeTrigger(v.definition.trigger, now)}; ${v.definition.steps.length} step(s)${v.definition.name !== wf.name ? `; named “${v.definition.name}”` : ""}`,
  );
  const runLines = runs.map(
    (r) =>
      `${formatWhen(r.scheduledFor, tz, now)} (${r.kind}, v${r.version}): ${STATUS_WORDS[r.status] ?? r.status}${r.error ? ` — ${r.error.slice(0, 120)}` : ""}`,
  );
  const text = [
    `History of “${wf.name}”:`,
    ...lines.map((l) => `• ${l}`),
    ...(runLines.length ? ["Last runs:", ...runLines.map((l) => `• ${l}`)] : []),
  ].join("\n");
  return {
    ...notice(text, "workflow.history"),
    blocks: [
      { type: "text", text: `History of “${wf.name}”:` },
      { type: "list", items: lines },
      ...(runLines.length
        ? [
            { type: "text" as const, text: "Last runs:" },
            { type: "list" as const, items: runLines },
          ]
        : []),
    ],
  };
}

/** Plain words for common errors. */
export function explainError(error: string, platform: string): string {
  if (/channel_not_found|not_in_channel/.test(error))
    return `${platform === "slack" || /\bSlack\b/.test(error) ? "Slack" : platform === "teams" ? "Teams" : "The platform"} says Atom cannot post in that channel (it was deleted, or Atom is not a member). Invite Atom to the channel, or edit the workflow to post somewhere else.`;
  if (/is_archived/.test(error)) return "The channel was archived. Edit the workflow to post somewhere else.";
  if (/invalid_auth|token_revoked|account_inactive|no Slack installation/.test(error))
    return "Atom's access to the workspace is gone (the app was removed or its token revoked). Reinstall Atom.";
  if (/no messenger/.test(error)) return `Atom is not connected to ${platform} here, so it could not post.`;
  if (/ratelimited|\b429\b|rate limit/i.test(error))
    return "The platform asked Atom to slow down (rate limit).";
  if (/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|fetch failed|socket hang up|\b5\d\d\b/.test(error))
    return "The platform could not be reached or had an error of its own.";
  return `The step reported: ${error.slice(0, 300)}`;
}

/** `workflow why <name>`: the last failure in plain words, with the failing step's log. */
export async function whyReply(svc: WorkflowService, wf: WorkflowRow): Promise<Reply> {
  const run: RunRow | undefined = await svc.deps.store.lastProblemRun(wf.id);
  const tz = wf.definition.trigger.tz;
  const now = svc.deps.now();
  if (!run) {
    const recent = (await svc.deps.store.runs(wf.id, 1))[0];
    return notice(
      recent
        ? `Nothing went wrong with “${wf.name}”: its last run (${formatWhen(recent.scheduledFor, tz, now)}) ${STATUS_WORDS[recent.status] ?? recent.status}.`
        : `“${wf.name}” has not run yet, so there is nothing to explain.`,
      "workflow.why",
    );
  }
  if (run.status === "missed")
    return notice(`The last problem with “${wf.name}”: ${run.note ?? "a run was missed."}`, "workflow.why");
  const logs: StepLog[] = (await svc.deps.store.stepLogs(run.id)).filter((l) => l.attempt === run.attempts);
  const failed = logs.find((l) => l.error) ?? logs.at(-1);
  const error = run.error ?? failed?.error ?? "unknown error";
  const retry =
    run.status === "retrying"
      ? `It is being retried (attempt ${run.attempts} so far).`
      : run.permanent
        ? "It was not retried: this error does not go away by itself."
        : `It was retried ${Math.max(0, run.attempts - 1)} time(s) with increasing waits, then given up.`;
  const where = failed ? `at step ${failed.path} (${failed.input})` : "before any step ran";
  const head = `The last run of “${wf.name}” (${formatWhen(run.scheduledFor, tz, now)}, version ${run.version}) ${run.status === "retrying" ? "is failing" : "failed"} ${where}.`;
  const lines = logs.map(
    (l) =>
      `${l.path}. ${l.type}: ${l.error ? `error — ${l.error.slice(0, 200)}` : l.output || "ok"} (${l.durationMs} ms)`,
  );
  const text = [
    head,
    `Why: ${explainError(error, wf.origin.platform)}`,
    retry,
    "Step log:",
    ...lines.map((l) => `• ${l}`),
  ].join("\n");
  return {
    ...notice(text, "workflow.why"),
    blocks: [
      { type: "text", text: head },
      { type: "text", text: `Why: ${explainError(error, wf.origin.platform)}` },
      { type: "text", text: retry },
      { type: "text", text: "Step log:" },
      { type: "list", items: lines },
    ],
  };
}

/** `workflow show <name>`: the active definition. */
export function showReply(svc: WorkflowService, wf: WorkflowRow): Reply {
  const now = svc.deps.now();
  return notice(
    [
      `“${wf.name}” (v${wf.activeVersion}, ${wf.status}): ${describeTrigger(wf.definition.trigger, now)}`,
      ...stepLines(wf.definition.steps),
    ].join("\n"),
    "workflow.show",
  );
}

/** The changing commands (owner or admin only). */
export async function changeReply(
  svc: WorkflowService,
  msg: ChatMessage,
  wf: WorkflowRow,
  verb: "pause" | "resume" | "delete" | "rename" | "rollback" | "run" | "edit",
  arg: string,
): Promise<Reply> {
  if (!mayChange(msg, wf)) return notAllowed(wf);
  const { store, db } = svc.deps;
  const now = svc.deps.now();
  const tz = wf.definition.trigger.tz;
  const log = (action: string, detail: Record<string, unknown> = {}) =>
    recordAudit(db, svc.deps.logger, {
      tenantId: msg.tenantId,
      actor: msg.userId,
      action,
      platform: msg.platform,
      detail: { workflow: wf.name, ...detail },
    });
  switch (verb) {
    case "pause":
      if (wf.status === "paused") return notice(`“${wf.name}” is already paused.`);
      await db.transaction(async (tx) => {
        await store.lock(tx, wf.id);
        await store.setState(tx, wf.id, "paused", null);
      });
      await log("workflow.paused");
      return notice(`Paused “${wf.name}”. Nothing more runs until “workflow resume ${wf.name}”.`);
    case "resume": {
      const next = nextRun(wf.definition.trigger, now);
      if (!next) return notice(`“${wf.name}” has no run left in the future; edit it to give it a new time.`);
      await db.transaction(async (tx) => {
        await store.lock(tx, wf.id);
        await store.setState(tx, wf.id, "active", next);
      });
      await log("workflow.resumed");
      svc.deps.scheduler.wake();
      return notice(`Resumed “${wf.name}”. Next run: ${formatWhen(next, tz, now)} (${tz}).`);
    }
    case "delete":
      await db.transaction(async (tx) => {
        await store.lock(tx, wf.id);
        await store.setState(tx, wf.id, "deleted", null);
      });
      await log("workflow.deleted");
      return notice(`Deleted “${wf.name}”. Its history is kept for the record.`);
    case "rename": {
      const name = arg.replace(/^["“']|["”']$/g, "").trim();
      if (!name || name.length > 80)
        return notice("Say the new name, e.g. “workflow rename Daily digest to Sales digest”.");
      const out = await db.transaction(async (tx) => {
        const locked = await store.lock(tx, wf.id);
        const free = await store.freeName(tx, wf.tenantId, name, wf.id);
        if (free !== name) return undefined;
        return store.addVersion(
          tx,
          wf.id,
          { ...locked!.definition, name },
          msg.userId,
          `renamed from “${wf.name}”`,
          locked!.nextRunAt,
        );
      });
      if (out === undefined) return notice(`There is already a workflow called “${name}”.`);
      await log("workflow.renamed", { to: name, version: out });
      return notice(`Renamed “${wf.name}” to “${name}” (version ${out}).`);
    }
    case "rollback": {
      const version = Number(/^v?(\d+)$/i.exec(arg.trim())?.[1] ?? Number.NaN);
      if (!Number.isInteger(version))
        return notice(
          `Which version? Say e.g. “workflow rollback ${wf.name} 1” (see “workflow history ${wf.name}”).`,
        );
      if (version === wf.activeVersion) return notice(`“${wf.name}” already runs version ${version}.`);
      const target = (await store.versions(wf.id)).find((v) => v.version === version);
      if (!target)
        return notice(`“${wf.name}” has no version ${version} (see “workflow history ${wf.name}”).`);
      const next = nextRun(target.definition.trigger, now);
      await db.transaction(async (tx) => {
        await store.lock(tx, wf.id);
        await store.activate(tx, wf.id, version, next);
      });
      await log("workflow.rolled_back", { version, from: wf.activeVersion });
      svc.deps.scheduler.wake();
      return notice(
        `“${target.definition.name}” runs version ${version} again: ${describeTrigger(target.definition.trigger, now)}.${next && wf.status !== "paused" ? ` Next run: ${formatWhen(next, target.definition.trigger.tz, now)}.` : ""}`,
      );
    }
    case "run": {
      const dry = /\b(?:dry[- ]?run|--dry-run|test|preview)\b/i.test(arg);
      await svc.startRun(wf, dry ? "dry_run" : "manual", msg.userId);
      return notice(
        dry
          ? `Dry run of “${wf.name}” started — the result comes to you only, in a direct message.`
          : `Running “${wf.name}” now — results go where it posts. Say “workflow why ${wf.name}” if something fails.`,
        "workflow.run",
        dry ? "ephemeral" : undefined,
      );
    }
    case "edit":
      if (!arg.trim())
        return notice(
          `Say what it should do, e.g. “workflow edit ${wf.name}: every weekday at 8 post a digest of new documents”.`,
        );
      return svc.plan(msg, arg, wf);
  }
}
