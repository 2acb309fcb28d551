/**
 * The workflow definition (DESIGN.md, Core flows → Workflow): a trigger, steps, a destination and
 * the missed-run policy, validated by zod and stored as JSON (one row per version) in Postgres.
 * Everything that produces a definition — the grammar, templates, a model — is checked against
 * {@link workflowDefinitionSchema}, so a stored definition is always runnable.
 */
import { z } from "zod";

/** True when `tz` is an IANA time zone this Node runtime knows (e.g. `America/New_York`). */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const timeZone = z.string().min(1).refine(isTimeZone, { error: "must be an IANA time zone" });
const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: "must be HH:MM (24-hour)" });

/**
 * When a workflow runs.
 * - `cron`: a 5-field cron expression (croner syntax, incl. `#` nth weekday, `L`, `W`) read in `tz`.
 *   Day-of-month and day-of-week combine with OR as in standard cron; "first Monday" is `1#1`.
 * - `weeks`: on `weekdays` at `times` every `every` weeks, counted from the week of `anchor`
 *   (a local date, YYYY-MM-DD) — "every other Friday" cannot be written in cron.
 * - `interval`: every `seconds`, counted from `anchor` (an instant) — fixed elapsed time.
 * - `once`: one run at `at` (an instant); `tz` is for display.
 */
export const triggerSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("cron"), expr: z.string().min(9).max(100), tz: timeZone }),
  z.object({
    type: z.literal("weeks"),
    every: z.number().int().min(1).max(52),
    weekdays: z.array(z.number().int().min(0).max(6)).min(1).max(7),
    times: z.array(hhmm).min(1).max(24),
    anchor: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    tz: timeZone,
  }),
  z.object({
    type: z.literal("interval"),
    seconds: z
      .number()
      .int()
      .min(1)
      .max(366 * 86_400),
    anchor: z.iso.datetime({ offset: true }),
    tz: timeZone,
  }),
  z.object({ type: z.literal("once"), at: z.iso.datetime({ offset: true }), tz: timeZone }),
]);
export type Trigger = z.infer<typeof triggerSchema>;

/** Where a `post` step sends its message. */
export const destinationSchema = z.discriminatedUnion("to", [
  /** The thread (Slack `thread_ts`, Teams conversation reference) the workflow was created in. */
  z.object({ to: z.literal("origin") }),
  /** A channel (top level) on the workflow's platform. */
  z.object({ to: z.literal("channel"), channelId: z.string().min(1).max(200) }),
  /** A direct message to a person (platform user id; default the owner). */
  z.object({ to: z.literal("dm"), userId: z.string().min(1).max(200).optional() }),
]);
export type Destination = z.infer<typeof destinationSchema>;

/** A test a `condition` step makes on what earlier steps found. */
export const conditionSchema = z.discriminatedUnion("test", [
  /** The last search found at least one item ("only if there are new documents"). */
  z.object({ test: z.literal("found") }),
  /** The last search found nothing ("if the search finds nothing"). */
  z.object({ test: z.literal("nothing_found") }),
  /** The last search found at least `count` items. */
  z.object({ test: z.literal("at_least"), count: z.number().int().min(1).max(1000) }),
]);
export type Condition = z.infer<typeof conditionSchema>;

/** `search`: documents (or a channel's questions) the later steps work on. */
const searchStep = z.object({
  type: z.literal("search"),
  /** What to look for (memory search); empty = every document that matches the other filters. */
  query: z.string().max(500).default(""),
  /** `documents` = the tenant's memory; `questions` = questions asked in the destination channel. */
  in: z.enum(["documents", "questions"]).default("documents"),
  /** Only these source ids (e.g. `gdrive:…`, `folder:handbook`). */
  sources: z.array(z.string().min(1)).max(20).optional(),
  /**
   * Time filter: `last_run` = new or changed since the previous successful run (the first run
   * looks back one schedule period); a number = within the last N hours.
   */
  since: z
    .union([
      z.literal("last_run"),
      z
        .number()
        .min(0.01)
        .max(24 * 366),
    ])
    .optional(),
  limit: z.number().int().min(1).max(50).default(10),
});

/** `summarize`: a short summary of what the last search found (model with a key, else extractive). */
const summarizeStep = z.object({
  type: z.literal("summarize"),
  maxSentences: z.number().int().min(1).max(20).default(5),
});

/**
 * `post`: a message. `text` may use `{results}` (the list found), `{summary}`, `{count}`, `{date}`
 * (the scheduled time in the workflow's zone) and `{name}`.
 */
const postStep = z.object({
  type: z.literal("post"),
  text: z.string().min(1).max(3000),
  destination: destinationSchema.default({ to: "origin" }),
});

const stopStep = z.object({ type: z.literal("stop"), reason: z.string().max(300).optional() });

/** One step. `condition` nests steps in `then` / `else` (at most 3 levels deep). */
export type Step =
  | z.infer<typeof searchStep>
  | z.infer<typeof summarizeStep>
  | z.infer<typeof postStep>
  | z.infer<typeof stopStep>
  | { type: "condition"; if: Condition; then: Step[]; else: Step[] };

/** Input shape of a step (defaults not yet applied), as a model or a template may write it. */
export type StepInput = z.input<typeof searchStep | typeof summarizeStep | typeof postStep | typeof stopStep>;

const stepSchemaAt = (depth: number): z.ZodType<Step> =>
  depth >= 3
    ? (z.discriminatedUnion("type", [searchStep, summarizeStep, postStep, stopStep]) as z.ZodType<Step>)
    : (z.discriminatedUnion("type", [
        searchStep,
        summarizeStep,
        postStep,
        stopStep,
        z.object({
          type: z.literal("condition"),
          if: conditionSchema,
          // biome-ignore lint/suspicious/noThenProperty: the condition step's shape is {if, then, else}
          then: z.array(z.lazy(() => stepSchemaAt(depth + 1))).max(20),
          else: z.array(z.lazy(() => stepSchemaAt(depth + 1))).max(20),
        }),
      ]) as unknown as z.ZodType<Step>);

export const stepSchema: z.ZodType<Step> = stepSchemaAt(0);

/** A complete workflow definition (one version). */
export const workflowDefinitionSchema = z.object({
  name: z.string().trim().min(1).max(80),
  trigger: triggerSchema,
  steps: z.array(stepSchema).min(1).max(20),
  /**
   * A run missed while no Atom process was up: `run_late` runs it once when Atom is back (inside
   * the catch-up window, with a "delayed" note), `skip` records it as missed and tells the owner.
   */
  onMissed: z.enum(["run_late", "skip"]).default("run_late"),
  /** The request it was made from, kept for history and `workflow why`. */
  source: z.string().max(2000).optional(),
  /** Template it was made from, if any. */
  template: z.string().max(80).optional(),
});
export type WorkflowDefinition = z.infer<typeof workflowDefinitionSchema>;

/** Where a workflow lives and reports: the conversation it was created in. */
export interface WorkflowOrigin {
  platform: "slack" | "teams" | "console";
  tenantId: string;
  channelId: string;
  threadId?: string;
  /** Platform user id of the owner. */
  ownerId: string;
  ownerEmail?: string;
  /** The conversation is a 1:1 chat with Atom. */
  isDirect: boolean;
}

/**
 * Validates a definition (e.g. from a model or a stored row).
 * @throws Error listing what is wrong, one problem per line (`path: message`).
 */
export function parseDefinition(input: unknown): WorkflowDefinition {
  const r = workflowDefinitionSchema.safeParse(input);
  if (r.success) return r.data;
  throw new Error(r.error.issues.map((i) => `${i.path.join(".") || "definition"}: ${i.message}`).join("\n"));
}

/** Every step of a definition in run order, nested ones included (for summaries and checks). */
export function flattenSteps(steps: readonly Step[]): Step[] {
  return steps.flatMap((s) =>
    s.type === "condition" ? [s, ...flattenSteps(s.then), ...flattenSteps(s.else)] : [s],
  );
}
