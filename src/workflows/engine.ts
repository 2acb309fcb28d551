/**
 * Runs the steps of one workflow version and logs each step (input summary, output summary,
 * error, duration) in `workflow_step_logs`. Posting goes through the {@link Messenger} port of
 * the workflow's platform — never an adapter — so a run posts in the originating thread from any
 * replica, also after a restart.
 */
import { makeReply } from "../bot/reply.ts";
import type { ConversationTarget, Messenger, Platform } from "../core/ports.ts";
import { PermanentJobError } from "../core/worker.ts";
import type { Memory } from "../memory/memory.ts";
import type { Logger } from "../observability/logger.ts";
import { principalsFor } from "../security/permissions.ts";
import { formatWhen } from "./clock.ts";
import type { Destination, Step, WorkflowDefinition } from "./definition.ts";
import type { RunRow, WorkflowRow, WorkflowStore } from "./repository.ts";
import { typicalPeriodMs } from "./schedule.ts";
import { extractiveSummarizer, type Summarizer, type SummaryItem } from "./summarize.ts";

/** Dependencies of the engine. */
export interface EngineDeps {
  store: WorkflowStore;
  memory: Memory;
  messengers: Map<Platform, Messenger>;
  logger: Logger;
  summarizer?: Summarizer;
}

/** One found item (a document or a question). */
interface Item {
  title: string;
  uri?: string;
  text?: string;
  source?: string;
  docId?: string;
}

interface State {
  items?: Item[];
  summary?: string;
  since?: Date;
  stopped?: string;
  posts: number;
}

/** What a run did, for the job result. */
export interface RunOutcome {
  posts: number;
  stopped?: string;
}

/** Errors from a platform that another attempt cannot fix (Slack error codes, missing setup). */
const PERMANENT =
  /channel_not_found|not_in_channel|is_archived|invalid_auth|account_inactive|token_revoked|missing_scope|no Slack installation|no messenger|user_not_found|cannot_dm_bot|restricted_action|msg_too_long|invalid_blocks|Forbidden|\b40[134]\b/;

/** Whether an error is permanent (not retried). */
export function isPermanent(err: unknown): boolean {
  if (err instanceof PermanentJobError) return true;
  return PERMANENT.test(err instanceof Error ? err.message : String(err));
}

/** Renders `{results}`, `{summary}`, `{count}`, `{date}`, `{since}`, `{name}` in a post's text. */
function render(
  text: string,
  state: State,
  ctx: { when: Date; tz: string; name: string; now: Date },
): string {
  const items = state.items ?? [];
  const results = items.map((it) => `• ${it.title}${it.uri ? ` — ${it.uri}` : ""}`).join("\n");
  return text
    .replaceAll("{results}", results || "(nothing)")
    .replaceAll("{summary}", state.summary ?? "")
    .replaceAll("{count}", String(items.length))
    .replaceAll("{date}", formatWhen(ctx.when, ctx.tz, ctx.now))
    .replaceAll("{since}", state.since ? formatWhen(state.since, ctx.tz, ctx.now) : "the start")
    .replaceAll("{name}", ctx.name)
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** Where a destination is on the platform. */
export function targetOf(workflow: WorkflowRow, dest: Destination): ConversationTarget {
  const o = workflow.origin;
  if (dest.to === "channel") return { platform: o.platform, tenantId: o.tenantId, channelId: dest.channelId };
  if (dest.to === "dm")
    return { platform: o.platform, tenantId: o.tenantId, userId: dest.userId ?? o.ownerId };
  return { platform: o.platform, tenantId: o.tenantId, channelId: o.channelId, threadId: o.threadId };
}

/**
 * Executes a definition for one run.
 * @param attempt the job attempt (step logs are kept per attempt; a post already made in an
 *   earlier attempt of the same run is not made again).
 * @param opts.dryRunTo posts go only to this person (dry run), marked as a dry run.
 * @throws the first failing step's error (after logging it).
 */
export async function executeRun(
  deps: EngineDeps,
  input: {
    workflow: WorkflowRow;
    definition: WorkflowDefinition;
    run: RunRow;
    attempt: number;
    now: Date;
    dryRunTo?: string;
  },
): Promise<RunOutcome> {
  const { workflow, definition, run } = input;
  const summarizer = deps.summarizer ?? extractiveSummarizer;
  const earlier = await deps.store.stepLogs(run.id);
  const postedBefore = new Set(
    earlier.filter((l) => l.type === "post" && !l.error && l.attempt < input.attempt).map((l) => l.path),
  );
  const state: State = { posts: 0 };
  const tz = definition.trigger.tz;

  const principalsFor2 = (dest: Destination) =>
    principalsFor({
      platform: workflow.origin.platform,
      userId: workflow.origin.ownerId,
      userEmail: workflow.origin.ownerEmail,
      isDirect:
        dest.to === "dm" || (dest.to === "origin" && workflow.origin.isDirect) || Boolean(input.dryRunTo),
      visibility: "thread",
    });
  /** The audience of the run: the first post's destination decides which documents may be used. */
  const audience = firstDestination(definition.steps) ?? { to: "origin" as const };

  async function sinceFor(step: Extract<Step, { type: "search" }>): Promise<Date | undefined> {
    if (step.since === undefined) return undefined;
    if (typeof step.since === "number") return new Date(run.scheduledFor.getTime() - step.since * 3_600_000);
    const last = await deps.store.lastSuccessBefore(workflow.id, run.scheduledFor);
    if (last) return last;
    const period = typicalPeriodMs(definition.trigger, workflow.createdAt) || 86_400_000;
    return new Date(run.scheduledFor.getTime() - period);
  }

  async function resolveSources(list: string[] | undefined): Promise<string[] | undefined> {
    if (!list) return undefined;
    const out: string[] = [];
    for (const s of list) {
      if (s.startsWith("kind:"))
        out.push(...(await deps.store.inputs.sourcesLike(workflow.tenantId, s.slice(5))));
      else out.push(s);
    }
    return out;
  }

  async function search(step: Extract<Step, { type: "search" }>): Promise<string> {
    const since = await sinceFor(step);
    state.since = since;
    if (step.in === "questions") {
      const from = since ?? new Date(run.scheduledFor.getTime() - 7 * 86_400_000);
      state.since = from;
      const qs = await deps.store.inputs.questionsAsked(workflow.origin, from, step.limit);
      state.items = qs.map((q) => ({ title: q.text }));
      return `${qs.length} question(s) asked since ${formatWhen(from, tz, input.now)}`;
    }
    const principals = principalsFor2(audience);
    const sources = await resolveSources(step.sources);
    if (sources && sources.length === 0) {
      state.items = [];
      return `no connected source matches ${step.sources!.join(", ")}`;
    }
    if (step.query.trim() === "" || step.since === "last_run") {
      const changed = since
        ? await deps.store.inputs.changedDocuments(
            workflow.tenantId,
            principals,
            since,
            step.query ? 1000 : step.limit,
            sources,
          )
        : [];
      if (step.query.trim() === "") {
        state.items = changed.map((c) => ({ title: c.title, uri: c.uri, source: c.source, docId: c.docId }));
        return `${changed.length} new or changed document(s) since ${since ? formatWhen(since, tz, input.now) : "the start"}`;
      }
      const fresh = new Set(changed.map((c) => `${c.source}\u0000${c.docId}`));
      const r = await deps.memory.search(step.query, {
        tenantId: workflow.tenantId,
        principals,
        sources,
        limit: 50,
      });
      state.items = r.hits
        .filter((h) => fresh.has(`${h.doc.source}\u0000${h.doc.docId}`))
        .slice(0, step.limit)
        .map((h) => ({
          title: h.doc.title,
          uri: h.doc.uri,
          text: h.best.text,
          source: h.doc.source,
          docId: h.doc.docId,
        }));
      return `${state.items.length} new document(s) matching “${step.query}”`;
    }
    const r = await deps.memory.search(step.query, {
      tenantId: workflow.tenantId,
      principals,
      sources,
      limit: step.limit,
      since: since?.getTime(),
    });
    state.items = r.hits.map((h) => ({
      title: h.doc.title,
      uri: h.doc.uri,
      text: h.best.text,
      source: h.doc.source,
      docId: h.doc.docId,
    }));
    return `${state.items.length} document(s) for “${step.query}”`;
  }

  async function summarize(step: Extract<Step, { type: "summarize" }>): Promise<string> {
    const items = state.items ?? [];
    const kind = items.length > 0 && items.every((i) => !i.uri) ? "questions" : "documents";
    const withText: SummaryItem[] = [];
    for (const it of items.slice(0, 10)) {
      let text = it.text;
      if (!text && kind === "documents" && it.source && withText.length < 5) {
        const r = await deps.memory.search(it.title, {
          tenantId: workflow.tenantId,
          principals: principalsFor2(audience),
          sources: [it.source],
          limit: 3,
        });
        text = r.hits.find((h) => h.doc.docId === it.docId)?.best.text;
      }
      withText.push({ title: it.title, text });
    }
    try {
      state.summary = await summarizer.summarize(withText, { kind, maxSentences: step.maxSentences });
      return `${summarizer.kind} summary, ${state.summary.split("\n").length} line(s)`;
    } catch (err) {
      if (summarizer === extractiveSummarizer) throw err;
      deps.logger.warn({ err }, "workflow summary by model failed; extractive summary used");
      state.summary = await extractiveSummarizer.summarize(withText, {
        kind,
        maxSentences: step.maxSentences,
      });
      return `extractive summary (the model failed), ${state.summary.split("\n").length} line(s)`;
    }
  }

  async function post(step: Extract<Step, { type: "post" }>, path: string): Promise<string> {
    let text = render(step.text, state, { when: run.scheduledFor, tz, name: workflow.name, now: input.now });
    if (run.note && run.kind === "late") text = `${text}\n\n(${run.note})`;
    const target: ConversationTarget = input.dryRunTo
      ? { platform: workflow.origin.platform, tenantId: workflow.tenantId, userId: input.dryRunTo }
      : targetOf(workflow, step.destination);
    if (input.dryRunTo) text = `[Dry run of “${workflow.name}” — only you see this]\n${text}`;
    if (postedBefore.has(path)) return "already posted in an earlier attempt of this run";
    const messenger = deps.messengers.get(workflow.origin.platform);
    if (!messenger) throw new PermanentJobError(`no messenger for platform ${workflow.origin.platform}`);
    const sent = await messenger.send(target, makeReply({ intent: "workflow", text }));
    state.posts += 1;
    return `posted to ${describeTarget(target)} (message ${sent.messageId || "sent"})`;
  }

  async function runSteps(steps: readonly Step[], prefix: string): Promise<void> {
    for (let i = 0; i < steps.length && !state.stopped; i++) {
      const step = steps[i]!;
      const path = `${prefix}${i + 1}`;
      const started = performance.now();
      const log = {
        attempt: input.attempt,
        path,
        type: step.type,
        input: describeStep(step),
        output: "",
        error: null as string | null,
        durationMs: 0,
      };
      let branch: { steps: readonly Step[]; prefix: string } | undefined;
      try {
        if (step.type === "search") log.output = await search(step);
        else if (step.type === "summarize") log.output = await summarize(step);
        else if (step.type === "post") log.output = await post(step, path);
        else if (step.type === "stop") {
          state.stopped = step.reason ?? "stop step";
          log.output = `stopped: ${state.stopped}`;
        } else {
          const ok = test(step.if, state);
          log.output = `${ok ? "true" : "false"} → ${ok ? "then" : "else"} branch`;
          branch = { steps: ok ? step.then : step.else, prefix: `${path}.${ok ? "then" : "else"}.` };
        }
      } catch (err) {
        log.error = err instanceof Error ? err.message : String(err);
        log.durationMs = performance.now() - started;
        await deps.store.logStep(run.id, log);
        throw err;
      }
      log.durationMs = performance.now() - started;
      await deps.store.logStep(run.id, log);
      if (branch) await runSteps(branch.steps, branch.prefix);
    }
  }

  await runSteps(definition.steps, "");
  return { posts: state.posts, stopped: state.stopped };
}

function test(cond: Extract<Step, { type: "condition" }>["if"], state: State): boolean {
  const n = state.items?.length ?? 0;
  if (cond.test === "found") return n > 0;
  if (cond.test === "nothing_found") return n === 0;
  return n >= cond.count;
}

function firstDestination(steps: readonly Step[]): Destination | undefined {
  for (const s of steps) {
    if (s.type === "post") return s.destination;
    if (s.type === "condition") {
      const d = firstDestination(s.then) ?? firstDestination(s.else);
      if (d) return d;
    }
  }
  return undefined;
}

/** A step in a few words, for the plan and the run log. */
export function describeStep(step: Step): string {
  switch (step.type) {
    case "search": {
      const what =
        step.in === "questions"
          ? "questions asked in the channel"
          : step.query
            ? `documents about “${step.query}”`
            : "documents";
      const since =
        step.since === "last_run"
          ? ", new or changed since the last run"
          : typeof step.since === "number"
            ? `, from the last ${step.since} hours`
            : "";
      const src = step.sources ? ` in ${step.sources.map((s) => s.replace(/^kind:/, "")).join(", ")}` : "";
      return `Search ${what}${src}${since}`;
    }
    case "summarize":
      return `Summarize what was found (up to ${step.maxSentences} points)`;
    case "post": {
      const where =
        step.destination.to === "origin"
          ? "this thread"
          : step.destination.to === "dm"
            ? "a direct message"
            : step.destination.channelId;
      // Every line, joined: a digest's two branches share their first line (the header).
      const lines = step.text.split("\n").filter((l) => l.trim() !== "");
      return `Post to ${where}: “${lines.join(" · ").slice(0, 160)}”`;
    }
    case "stop":
      return `Stop${step.reason ? ` (${step.reason})` : ""}`;
    case "condition": {
      const c =
        step.if.test === "found"
          ? "something was found"
          : step.if.test === "nothing_found"
            ? "nothing was found"
            : `at least ${step.if.count} were found`;
      return `If ${c}`;
    }
  }
}

function describeTarget(t: ConversationTarget): string {
  if (t.channelId) return `${t.channelId}${t.threadId ? ` (thread ${t.threadId})` : ""}`;
  return `a direct message to ${t.userId}`;
}
