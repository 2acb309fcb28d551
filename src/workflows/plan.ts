/**
 * Replies of the workflow feature: the plan with Confirm/Cancel buttons, refusals with examples,
 * and short notices. Platform-neutral {@link Reply} objects; adapters render the buttons (Slack
 * Block Kit, Teams Adaptive Card).
 */
import { makeReply, type Reply } from "../bot/reply.ts";
import { formatWhen } from "./clock.ts";
import type { Step, WorkflowDefinition } from "./definition.ts";
import { describeStep } from "./engine.ts";
import { describeTrigger, dstNote, nextRuns } from "./schedule.ts";

/** Action ids of the plan's buttons (the `workflow:` prefix routes presses to this feature). */
export const CONFIRM_ACTION = "workflow:confirm";
export const CANCEL_ACTION = "workflow:cancel";

/** Numbered lines of the steps, nested steps indented. */
export function stepLines(steps: readonly Step[], prefix = ""): string[] {
  return steps.flatMap((s, i) => {
    const n = `${prefix}${i + 1}`;
    if (s.type !== "condition") return [`${n}. ${describeStep(s)}`];
    return [
      `${n}. ${describeStep(s)}:`,
      ...stepLines(s.then, `${n}.`).map((l) => `   ${l}`),
      ...(s.else.length ? [`   otherwise:`, ...stepLines(s.else, `${n}.`).map((l) => `   ${l}`)] : []),
    ];
  });
}

/** "Every weekday at 09:00 (America/New_York). Next: Tue 2 Dec 09:00, Wed 3 Dec 09:00, …" */
export function scheduleLine(def: WorkflowDefinition, now: Date): string {
  const next = nextRuns(def.trigger, now, def.trigger.type === "once" ? 1 : 3);
  const when = describeTrigger(def.trigger, now);
  if (def.trigger.type === "once") return `${when}.`;
  return `${when}. Next: ${next.map((d) => formatWhen(d, def.trigger.tz, now)).join(", ")}`;
}

/** The plan shown before anything runs. */
export function planReply(input: {
  draftId: string;
  definition: WorkflowDefinition;
  notes: string[];
  now: Date;
  /** Set when this plan edits a workflow (it becomes version `version`). */
  edit?: { name: string; version: number };
}): Reply {
  const { definition: def, now } = input;
  const dst = dstNote(def.trigger, now);
  const head = input.edit
    ? `Here is the new plan for “${input.edit.name}” (it becomes version ${input.edit.version}):`
    : `Here is the plan for “${def.name}”:`;
  const steps = stepLines(def.steps);
  const notes = [...input.notes, ...(dst ? [dst] : [])];
  if (def.onMissed === "skip") notes.push("Runs missed while Atom is down are skipped (you are told).");
  const footer = "Nothing runs until you press Confirm.";
  const text = [
    head,
    `When: ${scheduleLine(def, now)}`,
    "Steps:",
    ...steps,
    ...(notes.length ? ["", ...notes] : []),
    "",
    footer,
  ].join("\n");
  return makeReply({
    intent: "workflow.plan",
    text,
    blocks: [
      { type: "text", text: head },
      { type: "text", text: `When: ${scheduleLine(def, now)}` },
      { type: "text", text: "Steps:" },
      { type: "list", items: steps },
      ...(notes.length ? [{ type: "text" as const, text: notes.join("\n") }] : []),
      { type: "text", text: footer },
    ],
    actions: [
      { id: CONFIRM_ACTION, label: "Confirm", value: input.draftId },
      { id: CANCEL_ACTION, label: "Cancel", value: input.draftId },
    ],
  });
}

/** A refusal with the reason and two requests that work. */
export function refusalReply(reason: string, examples: string[]): Reply {
  const text = [
    `I can't set that up: ${reason}`,
    "Try for example:",
    ...examples.map((e) => `• “${e}”`),
  ].join("\n");
  return makeReply({
    intent: "workflow.refused",
    text,
    found: false,
    blocks: [
      { type: "text", text: `I can't set that up: ${reason}` },
      { type: "text", text: "Try for example:" },
      { type: "list", items: examples.map((e) => `“${e}”`) },
    ],
  });
}

/** A plain notice (management commands). */
export function notice(text: string, intent = "workflow", visibility?: Reply["visibility"]): Reply {
  return makeReply({ intent, text, ...(visibility ? { visibility } : {}) });
}
