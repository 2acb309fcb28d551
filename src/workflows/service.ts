/**
 * Creating and changing workflows from chat: plan → Confirm/Cancel, and the shared helpers of
 * the management commands (finding a workflow by name, the owner-or-admin rule, starting runs).
 */
import { randomUUID } from "node:crypto";
import type { Reply } from "../bot/reply.ts";
import type { ChatAction, ChatMessage } from "../core/ports.ts";
import { recordAudit } from "../db/audit.ts";
import type { JobStore } from "../db/jobs.ts";
import type { Db } from "../db/types.ts";
import type { Logger } from "../observability/logger.ts";
import { distance } from "fastest-levenshtein";
import { formatWhen } from "./clock.ts";
import { parseDefinition, type WorkflowDefinition, type WorkflowOrigin } from "./definition.ts";
import { checkTrigger, parseRequest } from "./grammar/index.ts";
import { notice, planReply, refusalReply } from "./plan.ts";
import { nameKey, type RunKind, type WorkflowRow, type WorkflowStore } from "./repository.ts";
import { nextRun } from "./schedule.ts";
import { type RunJobPayload, runJobKey, WORKFLOW_QUEUE, type WorkflowScheduler } from "./scheduler.ts";

/**
 * The model path (used when a workspace has an AI key): turns a request the grammar could not
 * read into a definition-shaped object, which is then validated against the same schema and
 * checks as the grammar's output. Implemented by the AI module; absent without a key.
 */
export interface WorkflowModel {
  draft(text: string, ctx: { now: Date; timeZone: string }): Promise<unknown>;
}

/** Settings the service needs. */
export interface ServiceSettings {
  minIntervalSeconds: number;
  defaultTimeZone: string;
  /** How long a plan can be confirmed, ms (default 24 h). */
  draftTtlMs?: number;
}

/** Dependencies of the service. */
export interface ServiceDeps {
  db: Db;
  store: WorkflowStore;
  jobs: JobStore;
  scheduler: WorkflowScheduler;
  logger: Logger;
  now: () => Date;
  settings: ServiceSettings;
  model?: WorkflowModel;
  /** Wakes the local job worker after a manual run was enqueued. */
  wakeJobs?: () => void;
}

/** The origin of a workflow created from a message (posts go back into that thread). */
export function originOf(msg: ChatMessage): WorkflowOrigin {
  return {
    platform: msg.platform,
    tenantId: msg.tenantId,
    channelId: msg.channelId,
    threadId: msg.threadId,
    ownerId: msg.userId,
    ownerEmail: msg.userEmail,
    isDirect: msg.isDirect,
  };
}

/** Whether the asker may change a workflow: its owner or a workspace admin. */
export function mayChange(
  msg: Pick<ChatMessage, "userId" | "userIsAdmin" | "platform" | "tenantId">,
  wf: WorkflowRow,
): boolean {
  if (msg.tenantId !== wf.tenantId) return false;
  return msg.userId === wf.origin.ownerId || msg.userIsAdmin === true;
}

/** The refusal for someone who is neither the owner nor an admin. */
export function notAllowed(wf: WorkflowRow): Reply {
  return notice(
    `Only the owner of “${wf.name}” or a workspace admin can change it.`,
    "workflow.refused",
    "ephemeral",
  );
}

/** Creation, Confirm/Cancel and the shared helpers of the commands. */
export class WorkflowService {
  constructor(readonly deps: ServiceDeps) {}

  /**
   * Reads a request and answers with the plan (Confirm/Cancel) or a refusal with examples.
   * @param edit the workflow this request replaces (a new version on Confirm).
   */
  async plan(msg: ChatMessage, text: string, edit?: WorkflowRow): Promise<Reply> {
    const now = this.deps.now();
    const timeZone = msg.userTimeZone ?? edit?.definition.trigger.tz ?? this.deps.settings.defaultTimeZone;
    const ctx = {
      now,
      timeZone,
      timeZoneKnown: Boolean(msg.userTimeZone || edit),
      minIntervalSeconds: this.deps.settings.minIntervalSeconds,
    };
    let parsed = parseRequest(text, ctx);
    if (!parsed.ok && this.deps.model && !/interval allowed|in the past/.test(parsed.reason)) {
      const fromModel = await this.fromModel(text, ctx);
      if (fromModel)
        parsed = {
          ok: true,
          definition: fromModel,
          notes: ["I read this request with the workspace's AI model."],
        };
    }
    if (!parsed.ok) return refusalReply(parsed.reason, parsed.examples);
    let definition = parsed.definition;
    if (edit && !/\b(?:called|named)\b/i.test(text)) definition = { ...definition, name: edit.name };
    const draftId = randomUUID();
    await this.deps.store.drafts.create({
      id: draftId,
      origin: originOf(msg),
      definition,
      workflowId: edit?.id,
      ttlMs: this.deps.settings.draftTtlMs ?? 86_400_000,
    });
    const version = edit ? ((await this.deps.store.versions(edit.id))[0]?.version ?? 0) + 1 : 0;
    return planReply({
      draftId,
      definition,
      notes: parsed.notes,
      now,
      edit: edit ? { name: edit.name, version } : undefined,
    });
  }

  /** The model's draft, validated like the grammar's output; undefined when unusable. */
  private async fromModel(
    text: string,
    ctx: { now: Date; timeZone: string; minIntervalSeconds: number },
  ): Promise<WorkflowDefinition | undefined> {
    try {
      const raw = await this.deps.model!.draft(text, ctx);
      const def = parseDefinition({ ...(raw as object), source: text.slice(0, 2000) });
      if (checkTrigger(def.trigger, ctx)) return undefined;
      return def;
    } catch (err) {
      this.deps.logger.warn(
        { err },
        "the model's workflow draft was not usable; the grammar's answer stands",
      );
      return undefined;
    }
  }

  /** Confirm or Cancel pressed on a plan. */
  async settle(action: ChatAction, draftId: string, confirm: boolean): Promise<Reply> {
    const { store, db } = this.deps;
    const draft = await store.drafts.get(action.tenantId, draftId);
    if (!draft) return notice("That plan no longer exists.", "workflow", "ephemeral");
    if (draft.ownerId !== action.userId || draft.origin.platform !== action.platform)
      return notice(
        "Only the person who asked for this workflow can confirm or cancel it.",
        "workflow.refused",
        "ephemeral",
      );
    if (draft.status !== "pending")
      return notice(`This plan was already ${draft.status}.`, "workflow", "ephemeral");
    if (draft.expiresAt.getTime() <= Date.now())
      return notice("This plan expired. Ask again and I'll make a new one.", "workflow", "ephemeral");
    if (!confirm) {
      const done = await db.transaction((tx) => store.drafts.settle(tx, draftId, "cancelled"));
      return notice(
        done ? "Cancelled — nothing was scheduled." : "This plan was already settled.",
        "workflow",
        "ephemeral",
      );
    }
    const now = this.deps.now();
    const def = draft.definition;
    const next = nextRun(def.trigger, now);
    if (!next) {
      return notice(
        "That time has passed in the meantime, so nothing was scheduled. Ask again with a later time.",
        "workflow",
        "ephemeral",
      );
    }
    const out = await db.transaction(async (tx) => {
      if (!(await store.drafts.settle(tx, draftId, "confirmed"))) return undefined;
      if (draft.workflowId) {
        const wf = await store.lock(tx, draft.workflowId);
        if (!wf || wf.status === "deleted") return { gone: true as const };
        const name = await store.freeName(tx, wf.tenantId, def.name, wf.id);
        const version = await store.addVersion(tx, wf.id, { ...def, name }, action.userId, "edited", next);
        return { name, version, paused: wf.status === "paused" };
      }
      const created = await store.create(tx, draft.origin, def, next);
      return { name: created.name, version: 1, paused: false };
    });
    if (!out) return notice("This plan was already settled.", "workflow", "ephemeral");
    if ("gone" in out) return notice("That workflow was deleted in the meantime.", "workflow", "ephemeral");
    await recordAudit(db, this.deps.logger, {
      tenantId: action.tenantId,
      actor: action.userId,
      action: out.version > 1 ? "workflow.edited" : "workflow.created",
      platform: action.platform,
      detail: { workflow: out.name, version: out.version },
    });
    this.deps.scheduler.wake();
    const when = formatWhen(next, def.trigger.tz, now);
    const text =
      out.version > 1
        ? `Confirmed — “${out.name}” is now version ${out.version}.${out.paused ? " It is paused; say “workflow resume " + out.name + "” to start it." : ` Next run: ${when} (${def.trigger.tz}).`}`
        : `Confirmed — “${out.name}” is on. Next run: ${when} (${def.trigger.tz}). Say “workflows” to see all, “workflow pause ${out.name}” to stop it.`;
    return notice(text, "workflow.confirmed");
  }

  /**
   * Finds a workflow of the tenant by name: exact (case-insensitive), else the only one whose
   * name starts with or contains the words, else the only one within two typos.
   */
  async find(tenantId: string, name: string): Promise<{ wf?: WorkflowRow; problem?: string }> {
    const key = nameKey(name.replace(/^["“']|["”']$/g, ""));
    if (!key) return { problem: "Which workflow? Say its name, e.g. “workflow history Daily digest”." };
    const all = await this.deps.store.list(tenantId);
    const exact = all.find((w) => nameKey(w.name) === key);
    if (exact) return { wf: exact };
    for (const test of [
      (w: WorkflowRow) => nameKey(w.name).startsWith(key),
      (w: WorkflowRow) => nameKey(w.name).includes(key),
      (w: WorkflowRow) => distance(nameKey(w.name), key) <= 2,
    ]) {
      const hits = all.filter(test);
      if (hits.length === 1) return { wf: hits[0] };
      if (hits.length > 1)
        return {
          problem: `Several workflows match “${name}”: ${hits.map((h) => `“${h.name}”`).join(", ")}. Which one?`,
        };
    }
    return { problem: `I don't know a workflow called “${name}”. Say “workflows” to see them.` };
  }

  /** Records a run that starts now (manual or dry run) and enqueues its job. */
  async startRun(
    wf: WorkflowRow,
    kind: Extract<RunKind, "manual" | "dry_run">,
    requestedBy: string,
  ): Promise<void> {
    const runKey = `${kind}:${randomUUID()}`;
    await this.deps.db.transaction(async (tx) => {
      const runId = await this.deps.store.insertRun(tx, {
        workflowId: wf.id,
        tenantId: wf.tenantId,
        runKey,
        kind,
        scheduledFor: this.deps.now(),
        version: wf.activeVersion,
        requestedBy,
      });
      if (!runId) throw new Error("a run with this key exists");
      await this.deps.jobs.enqueue<RunJobPayload>(
        {
          queue: WORKFLOW_QUEUE,
          tenantId: wf.tenantId,
          key: runJobKey(wf.id, runKey),
          payload: { runId },
          maxAttempts: 4,
        },
        tx,
      );
    });
    this.deps.wakeJobs?.();
  }
}
