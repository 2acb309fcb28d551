/**
 * Plain language → workflow definition, deterministically: normalise (typos), expand a template,
 * find the schedule ({@link parseWhen}), the action ({@link parseWhat}), then check the result
 * against the schema, the minimum interval and the clock. A request Atom cannot schedule gets a
 * reason and two examples that work.
 */
import { type Trigger, type WorkflowDefinition, workflowDefinitionSchema } from "../definition.ts";
import { cronProblem, nextRun, shortestGapSeconds } from "../schedule.ts";
import { expandTemplate } from "../templates.ts";
import { normalize } from "./normalize.ts";
import { parseWhat } from "./what.ts";
import { parseWhen } from "./when.ts";

/** Requests that work, shown with every refusal. */
export const EXAMPLES = [
  "every weekday at 9 post a digest of new documents here",
  "remind me every Monday at 9am to review the sales dashboard",
  "first Monday of every month at 9 remind the team to send expenses",
  "in 20 minutes remind me to call Ana",
  "use the daily digest template for #sales at 8",
];

/** Context of one parse. */
export interface GrammarContext {
  now: Date;
  /** The person's IANA zone, or the default (ATOM_WORKFLOW_DEFAULT_TIMEZONE / UTC). */
  timeZone: string;
  /** Where the person's zone came from, for the plan ("from your Slack profile"). */
  timeZoneKnown?: boolean;
  /** Shortest allowed time between runs, seconds (ATOM_WORKFLOW_MIN_INTERVAL_SECONDS). */
  minIntervalSeconds: number;
}

/** A parsed request, not yet confirmed. */
export interface Parsed {
  ok: true;
  definition: WorkflowDefinition;
  /** Things the person should know (a picked default time, corrected typos, DST). */
  notes: string[];
}

/** A refusal: why, and two examples that work. */
export interface Refusal {
  ok: false;
  reason: string;
  examples: string[];
}

/** Pick two examples; the first one close to what was asked when possible. */
function examplesFor(text: string): string[] {
  if (/remind/.test(text)) return [EXAMPLES[1]!, EXAMPLES[3]!];
  if (/template/.test(text)) return [EXAMPLES[4]!, EXAMPLES[0]!];
  if (/month/.test(text)) return [EXAMPLES[2]!, EXAMPLES[0]!];
  return [EXAMPLES[0]!, EXAMPLES[1]!];
}

const refuse = (reason: string, text: string): Refusal => ({
  ok: false,
  reason,
  examples: examplesFor(text),
});

/** "Skip missed runs" and its variants (the missed-run policy, not part of the action). */
const MISSED_SKIP =
  /\s*,?\s*\b(?:(?:and )?skip (?:any )?missed runs?|if missed,? skip(?: it)?|don'?t catch up|do not catch up|no catch-?up)\b/g;

/** Event-style triggers Atom cannot schedule ("whenever someone …"). */
const EVENT_TRIGGER =
  /\b(?:whenever|every time|each time|as soon as|when(?:ever)? (?:someone|somebody|anyone|a user|a person|i get|we get|it rains|the build))\b/;

/** Whether a normalised text contains a recurring or dated schedule (not just a time). */
export function hasSchedule(text: string, ctx: Pick<GrammarContext, "now" | "timeZone">): boolean {
  const r = parseWhen(text, ctx);
  return r.ok && !r.bare;
}

/** Whether `s` minus time words names a recurrence at all (for "watch" with no schedule). */
function isMissing(r: ReturnType<typeof parseWhen>): boolean {
  return !r.ok && r.problem === undefined;
}

/**
 * Parses a request into a definition, or refuses with a reason and two working examples.
 * Never throws.
 */
export function parseRequest(input: string, ctx: GrammarContext): Parsed | Refusal {
  const norm = normalize(input);
  let text = norm.text;
  const notes: string[] = [];
  if (norm.corrections.length > 0)
    notes.push(`I read ${norm.corrections.map((c) => `“${c.from}” as “${c.to}”`).join(", ")}.`);
  if (EVENT_TRIGGER.test(text))
    return refuse(
      "I can run workflows on a schedule (every day, every Monday, in 20 minutes…), but not when something happens.",
      text,
    );

  let template: string | undefined;
  const expanded = expandTemplate(text, (s) => hasSchedule(s, ctx));
  if (expanded && "problem" in expanded) return refuse(`${cap(expanded.problem)}.`, text);
  if (expanded) {
    text = expanded.request;
    template = expanded.template.id;
  }

  let when = parseWhen(text, ctx);
  if (!when.ok && when.problem) return refuse(`I couldn't use that schedule: ${when.problem}.`, text);
  if (when.ok) {
    const early = checkTrigger(when.trigger, ctx);
    if (early) return refuse(early, text);
  }
  const whatText = (when.ok ? when.rest : text)
    .replace(MISSED_SKIP, " ")
    .replace(/\s+/g, " ")
    .replace(/[\s,;]+$/, "");
  const what = parseWhat(whatText, input);
  if (!what) {
    return refuse(
      when.ok
        ? "I understood when, but not what to do. I can remind, post a digest of new documents, watch for documents about a keyword, summarize a channel's questions, or search and post."
        : "I couldn't find when this should run.",
      text,
    );
  }
  if (isMissing(when) && what.defaultSchedule) {
    when = parseWhen(`${what.defaultSchedule} ${whatText}`, ctx);
    if (when.ok) notes.push(`No schedule was given, so I check ${what.defaultSchedule}.`);
  }
  if (!when.ok)
    return refuse(
      "I couldn't find when this should run (for example “every weekday at 9” or “tomorrow at 8”).",
      text,
    );
  notes.push(...when.notes);

  const problem = checkTrigger(when.trigger, ctx);
  if (problem) return refuse(problem, text);

  const onMissed = new RegExp(MISSED_SKIP.source).test(text) ? "skip" : "run_late";
  const parsed = workflowDefinitionSchema.safeParse({
    name: what.name,
    trigger: when.trigger,
    steps: what.steps,
    onMissed,
    source: input.slice(0, 2000),
    template,
  });
  if (!parsed.success) {
    return refuse(
      `That doesn't make a valid workflow: ${parsed.error.issues[0]?.message ?? "unknown problem"}.`,
      text,
    );
  }
  if (!ctx.timeZoneKnown && !/Time zone:/.test(notes.join(" ")))
    notes.push(
      `I don't know your time zone, so times are in ${ctx.timeZone}. Add a zone to change it, e.g. “at 9 Europe/Paris”.`,
    );
  return { ok: true, definition: parsed.data, notes: [...notes, ...what.notes] };
}

/**
 * Checks a trigger against the clock and the minimum interval.
 * @returns the reason it cannot be used, or undefined.
 */
export function checkTrigger(
  trigger: Trigger,
  ctx: Pick<GrammarContext, "now" | "minIntervalSeconds">,
): string | undefined {
  if (trigger.type === "cron") {
    const p = cronProblem(trigger.expr, trigger.tz);
    if (p) return `That schedule is not valid (${p}).`;
  }
  if (trigger.type === "once" && new Date(trigger.at).getTime() <= ctx.now.getTime())
    return "That time is in the past, so the workflow would never run. Pick a time that is still ahead.";
  if (!nextRun(trigger, ctx.now)) return "That schedule has no run in the future.";
  const gap = shortestGapSeconds(trigger, ctx.now);
  if (gap < ctx.minIntervalSeconds) {
    return `Runs would be ${words(gap)} apart, and the shortest interval allowed here is ${words(ctx.minIntervalSeconds)} (ATOM_WORKFLOW_MIN_INTERVAL_SECONDS=${ctx.minIntervalSeconds}). Pick a longer interval, such as “every hour”.`;
  }
  return undefined;
}

function words(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? "1 hour" : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? "1 minute" : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}

const cap = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;
