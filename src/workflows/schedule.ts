/**
 * Fire times of a {@link Trigger}. Cron expressions are evaluated by croner 11 in the workflow's
 * time zone (chosen for its DST handling, measured on Node 20 for `30 2 * * *` in New York on
 * 2026-03-08: croner runs at 03:00, cron-parser 5 at 03:30, node-cron 4 skips the day).
 *
 * DST rules (as Vixie cron, `man 8 cron`): a job at a fixed local time that does not exist on a
 * spring-forward day runs once, at the first valid time after it (croner's behaviour); a fixed
 * local time that happens twice on a fall-back day runs once, at the first occurrence (croner
 * returns both for some zones, so the second is dropped here). Jobs whose hour field is a
 * wildcard or a step ("every 30 minutes") keep running through the repeated hour.
 */
import { Cron } from "croner";
import cronstrue from "cronstrue";
import { dayNumber, formatWhen, localDate, localTime, offsetMinutes, pad, wallKey } from "./clock.ts";
import type { Trigger } from "./definition.ts";

/** Most fire times looked at in one computation (a bound for runaway loops). */
const MAX_SCAN = 5000;

/** Separator of several cron expressions in one trigger (e.g. "at 9:00 and 17:30"). */
export const CRON_SEPARATOR = " ; ";

const parsed = new Map<string, Cron[]>();

/** The parsed expressions of a cron trigger (cached: parsing is the costly part of a next run). */
function crons(expr: string, tz: string): Cron[] {
  const key = `${tz}\u0000${expr}`;
  let list = parsed.get(key);
  if (!list) {
    list = expr.split(CRON_SEPARATOR).map((e) => new Cron(e.trim(), { timezone: tz, mode: "5-part" }));
    if (parsed.size > 1000) parsed.clear();
    parsed.set(key, list);
  }
  return list;
}

/**
 * Validates a cron expression (one or several joined by {@link CRON_SEPARATOR}).
 * @returns undefined when valid, else croner's reason.
 */
export function cronProblem(expr: string, tz: string): string | undefined {
  try {
    const list = crons(expr, tz);
    if (list.some((c) => c.nextRun(new Date()) === null)) return "it never runs";
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Whether a cron expression names fixed hours (no `*` or step in the hour field). */
function fixedHours(expr: string): boolean {
  const hour = expr.trim().split(/\s+/)[1] ?? "*";
  return !hour.includes("*") && !hour.includes("/");
}

/** The second occurrence of a repeated local time (fall back) — dropped for fixed-time jobs. */
function isRepeatedWallTime(date: Date, tz: string): boolean {
  const key = wallKey(date, tz);
  for (const back of [30, 60, 120]) {
    if (wallKey(new Date(date.getTime() - back * 60_000), tz) === key) return true;
  }
  return false;
}

/** Next fire time of one cron strictly after `after`, applying the fall-back rule. */
function nextCron(c: Cron, fixed: boolean, tz: string, after: Date): Date | null {
  let prev = after;
  for (let i = 0; i < 4; i++) {
    const next = c.nextRun(prev);
    if (!next) return null;
    if (!(fixed && isRepeatedWallTime(next, tz))) return next;
    prev = next;
  }
  return null;
}

/**
 * The next `n` fire times strictly after `after`.
 * @throws Error for an invalid cron expression.
 */
export function nextRuns(trigger: Trigger, after: Date, n: number): Date[] {
  const out: Date[] = [];
  let cursor = after;
  for (let i = 0; i < n; i++) {
    const next = nextRun(trigger, cursor);
    if (!next) break;
    out.push(next);
    cursor = next;
  }
  return out;
}

/** The next fire time strictly after `after`, or null when there is none (a past one-off). */
export function nextRun(trigger: Trigger, after: Date): Date | null {
  switch (trigger.type) {
    case "once": {
      const at = new Date(trigger.at);
      return at.getTime() > after.getTime() ? at : null;
    }
    case "interval": {
      const anchor = new Date(trigger.anchor).getTime();
      const step = trigger.seconds * 1000;
      if (after.getTime() < anchor) return new Date(anchor);
      const k = Math.floor((after.getTime() - anchor) / step) + 1;
      return new Date(anchor + k * step);
    }
    case "cron": {
      const fixed = trigger.expr.split(CRON_SEPARATOR).map((e) => fixedHours(e));
      const cands = crons(trigger.expr, trigger.tz)
        .map((c, i) => nextCron(c, fixed[i]!, trigger.tz, after))
        .filter((d): d is Date => d !== null);
      if (cands.length === 0) return null;
      return new Date(Math.min(...cands.map((d) => d.getTime())));
    }
    case "weeks": {
      const days = [...new Set(trigger.weekdays)].sort().join(",");
      const exprs = [...new Set(trigger.times)].map((t) => {
        const [h, m] = t.split(":").map(Number) as [number, number];
        return `${m} ${h} * * ${days}`;
      });
      const c = crons(exprs.join(CRON_SEPARATOR), trigger.tz);
      const anchorMonday = mondayOf(trigger.anchor);
      let cursor = after;
      for (let i = 0; i < MAX_SCAN; i++) {
        const cands = c
          .map((x) => nextCron(x, true, trigger.tz, cursor))
          .filter((d): d is Date => d !== null);
        if (cands.length === 0) return null;
        const next = new Date(Math.min(...cands.map((d) => d.getTime())));
        const week = Math.floor((dayNumber(localDate(next, trigger.tz)) - anchorMonday) / 7);
        if (week >= 0 && week % trigger.every === 0) return next;
        cursor = next;
      }
      return null;
    }
  }
}

/** Day number of the Monday of the week that holds `ymd`. */
function mondayOf(ymd: string): number {
  const n = dayNumber(ymd);
  const weekday = (n + 4) % 7; // 1970-01-01 was a Thursday
  return n - ((weekday + 6) % 7);
}

/**
 * Fire times in `[from, to]` (both inclusive), at most `cap` (the newest are kept when there are
 * more), for missed-run bookkeeping.
 */
export function runsBetween(trigger: Trigger, from: Date, to: Date, cap = 100): Date[] {
  const out: Date[] = [];
  let cursor = new Date(from.getTime() - 1);
  for (let i = 0; i < MAX_SCAN; i++) {
    const next = nextRun(trigger, cursor);
    if (!next || next.getTime() > to.getTime()) break;
    out.push(next);
    if (out.length > cap) out.shift();
    cursor = next;
  }
  return out;
}

/**
 * The shortest gap between consecutive runs over the next `sample` runs, in seconds;
 * Infinity for a one-off. Used to enforce `ATOM_WORKFLOW_MIN_INTERVAL_SECONDS`.
 */
export function shortestGapSeconds(trigger: Trigger, from: Date, sample = 40): number {
  if (trigger.type === "once") return Number.POSITIVE_INFINITY;
  if (trigger.type === "interval") return trigger.seconds;
  const runs = nextRuns(trigger, from, sample);
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < runs.length; i++)
    gap = Math.min(gap, (runs[i]!.getTime() - runs[i - 1]!.getTime()) / 1000);
  return gap;
}

/** Days (UTC noon instants) within `days` after `from` on which the zone's UTC offset changes. */
function offsetChanges(tz: string, from: Date, days: number): Date[] {
  const out: Date[] = [];
  let prev = offsetMinutes(from, tz);
  for (let i = 1; i <= days; i++) {
    const at = new Date(from.getTime() + i * 86_400_000);
    const off = offsetMinutes(at, tz);
    if (off !== prev) out.push(at);
    prev = off;
  }
  return out;
}

/**
 * The first upcoming run (within a year) whose local time differs from the time asked for
 * because of a DST change, explained in words — shown in the plan so the person knows. Only the
 * runs around each offset change are computed (croner with a zone costs about a millisecond a run).
 */
export function dstNote(trigger: Trigger, from: Date): string | undefined {
  if (trigger.type !== "cron" && trigger.type !== "weeks") return undefined;
  const wanted = wantedTimes(trigger);
  if (!wanted) return undefined;
  for (const change of offsetChanges(trigger.tz, from, 366)) {
    let cursor = new Date(Math.max(from.getTime(), change.getTime() - 2 * 86_400_000));
    for (let i = 0; i < 24; i++) {
      const next = nextRun(trigger, cursor);
      if (!next || next.getTime() > change.getTime() + 86_400_000) break;
      const t = localTime(next, trigger.tz);
      const hm = `${pad(t.hour)}:${pad(t.minute)}`;
      const day = formatWhen(next, trigger.tz, from).slice(0, -6);
      if (!wanted.has(hm)) {
        const asked = [...wanted].filter((w) => w < hm).at(-1) ?? [...wanted][0];
        return `On ${day} ${asked} does not exist in ${trigger.tz} (clocks go forward), so that day it runs once, at ${hm}.`;
      }
      const key = wallKey(next, trigger.tz);
      if ([30, 60, 120].some((b) => wallKey(new Date(next.getTime() + b * 60_000), trigger.tz) === key))
        return `On ${day} ${hm} happens twice in ${trigger.tz} (clocks go back); it runs once, at the first ${hm}.`;
      cursor = next;
    }
  }
  return undefined;
}

/** The local HH:MM times a fixed-time trigger asks for, or undefined when not fixed. */
function wantedTimes(trigger: Trigger): Set<string> | undefined {
  if (trigger.type === "weeks") return new Set(trigger.times);
  if (trigger.type !== "cron") return undefined;
  const out = new Set<string>();
  for (const e of trigger.expr.split(CRON_SEPARATOR)) {
    const [m, h] = e.trim().split(/\s+/);
    if (!m || !h || !/^\d+(,\d+)*$/.test(m) || !/^\d+(,\d+)*$/.test(h)) return undefined;
    for (const hh of h.split(","))
      for (const mm of m.split(",")) out.add(`${pad(Number(hh))}:${pad(Number(mm))}`);
  }
  return out;
}

const DAY_WORDS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const ORDINALS = ["", "first", "second", "third", "fourth", "fifth"];

function joinWords(list: string[]): string {
  return list.length <= 1 ? (list[0] ?? "") : `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
}

/** Times of the day of simple cron fields, e.g. "09:00" or "01:30 and 13:30"; undefined otherwise. */
function timesOf(m: string, h: string): string | undefined {
  if (!/^\d+(,\d+)*$/.test(m) || !/^\d+(,\d+)*$/.test(h)) return undefined;
  const list: string[] = [];
  for (const hh of h.split(","))
    for (const mm of m.split(",")) list.push(`${pad(Number(hh))}:${pad(Number(mm))}`);
  return joinWords(list.sort());
}

/** One cron expression in words (own phrasing for the common shapes, cronstrue for the rest). */
function describeCron(expr: string): string {
  const [m = "", h = "", dom = "", mon = "", dow = ""] = expr.trim().split(/\s+/);
  const at = timesOf(m, h);
  if (at && mon === "*") {
    if (dom === "*" && dow === "*") return `Every day at ${at}`;
    if (dom === "*" && dow === "1-5") return `Every weekday at ${at}`;
    if (dom === "*" && (dow === "0,6" || dow === "6,0")) return `Every Saturday and Sunday at ${at}`;
    if (dom === "*" && /^[0-6](,[0-6])*$/.test(dow))
      return `Every ${joinWords(dow.split(",").map((d) => DAY_WORDS[Number(d)]!))} at ${at}`;
    const nth = /^([0-6])#([1-5])$/.exec(dow);
    if (dom === "*" && nth)
      return `The ${ORDINALS[Number(nth[2])]} ${DAY_WORDS[Number(nth[1])]} of every month at ${at}`;
    const last = /^([0-6])L$/.exec(dow);
    if (dom === "*" && last) return `The last ${DAY_WORDS[Number(last[1])]} of every month at ${at}`;
    if (dow === "*" && dom === "1W") return `The first weekday of every month at ${at}`;
    if (dow === "*" && dom === "LW") return `The last weekday of every month at ${at}`;
    if (dow === "*" && dom === "L") return `The last day of every month at ${at}`;
    if (dow === "*" && /^\d+$/.test(dom)) return `Day ${dom} of every month at ${at}`;
  }
  const every = /^\*\/(\d+)$/.exec(m);
  if (every && h === "*" && dom === "*" && mon === "*" && dow === "*") return `Every ${every[1]} minutes`;
  if (m === "*" && h === "*" && dom === "*" && mon === "*" && dow === "*") return "Every minute";
  const hours = /^\*\/(\d+)$/.exec(h);
  if (/^\d+$/.test(m) && hours && dom === "*" && mon === "*" && dow === "*")
    return m === "0"
      ? `Every ${hours[1]} hours, on the hour`
      : `Every ${hours[1]} hours, at ${pad(Number(m))} past the hour`;
  if (/^\d+$/.test(m) && h === "*" && dom === "*" && mon === "*" && dow === "*")
    return m === "0" ? "Every hour, on the hour" : `Every hour, at ${pad(Number(m))} past the hour`;
  return cronstrue.toString(expr, { use24HourTimeFormat: true, verbose: false });
}

/** "every 90 minutes", "every 5 hours", "every 2 days" for an interval in seconds. */
function intervalWords(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? "every day" : `every ${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? "every hour" : `every ${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? "every minute" : `every ${seconds / 60} minutes`;
  return `every ${seconds} seconds`;
}

/**
 * The schedule in words with its time zone, e.g. "Every weekday at 09:00 (America/New_York)".
 */
export function describeTrigger(trigger: Trigger, now?: Date): string {
  switch (trigger.type) {
    case "once":
      return `Once, on ${formatWhen(new Date(trigger.at), trigger.tz, now)} (${trigger.tz})`;
    case "interval": {
      const w = intervalWords(trigger.seconds);
      return `${w[0]!.toUpperCase()}${w.slice(1)}, from ${formatWhen(new Date(trigger.anchor), trigger.tz, now)} (${trigger.tz})`;
    }
    case "cron": {
      const parts = trigger.expr.split(CRON_SEPARATOR).map((e) => describeCron(e));
      return `${parts.join("; ")} (${trigger.tz})`;
    }
    case "weeks": {
      const days = joinWords([...new Set(trigger.weekdays)].sort().map((d) => DAY_WORDS[d]!));
      const times = joinWords([...trigger.times].sort());
      const every =
        trigger.every === 2
          ? "Every other"
          : trigger.every === 1
            ? "Every"
            : `Every ${trigger.every} weeks on`;
      return `${every} ${days} at ${times} (${trigger.tz})`;
    }
  }
}

/** The typical period between runs in ms (one-off: 0), used to look back on a first digest. */
export function typicalPeriodMs(trigger: Trigger, from: Date): number {
  if (trigger.type === "once") return 0;
  const runs = nextRuns(trigger, from, 3);
  if (runs.length < 2) return 86_400_000;
  return runs[1]!.getTime() - runs[0]!.getTime();
}
