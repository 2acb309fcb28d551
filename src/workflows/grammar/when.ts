/**
 * The "when" half of the workflow grammar: finds the schedule in a normalised request and turns it
 * into a {@link Trigger}. Deterministic, rule by rule, tried from the most specific phrase to the
 * least. What each rule accepts is listed in README ("Workflows").
 */
import { addDays, localDate, localTime, pad, zonedInstant } from "../clock.ts";
import { isTimeZone, type Trigger } from "../definition.ts";
import { CRON_SEPARATOR } from "../schedule.ts";

/** What the schedule parser found. */
export type WhenResult =
  | {
      ok: true;
      trigger: Trigger;
      rest: string;
      notes: string[];
      /** Only a time of day was given ("at 5pm"): a one-off today or tomorrow. */
      bare?: boolean;
    }
  | { ok: false; problem: string }
  | { ok: false; problem?: undefined };

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const DAY_ALT = "(?:sun|mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?)(?:day)?s?";
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const TIME = String.raw`(?:\d{1,2}(?::\d{2})?\s?(?:am|pm)?|noon|midday|midnight)`;
const AT = String.raw`(?:(?:at|@)\s+${TIME}(?:\s*(?:,|and|&)\s*(?:at\s+)?${TIME})*)`;
const ORD = "(first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)";

/** Day number (0 = Sunday) of a day word ("mon", "Tuesdays"), or undefined. */
function dayOf(word: string): number | undefined {
  const w = word.toLowerCase().replace(/s$/, "");
  const i = DAYS.findIndex((d) => d.startsWith(w.slice(0, 3)));
  return i >= 0 && new RegExp(`^${DAY_ALT}$`).test(word.toLowerCase()) ? i : undefined;
}

function ordinal(word: string): number {
  const map: Record<string, number> = {
    first: 1,
    "1st": 1,
    second: 2,
    "2nd": 2,
    third: 3,
    "3rd": 3,
    fourth: 4,
    "4th": 4,
    fifth: 5,
    "5th": 5,
  };
  return map[word] ?? -1;
}

/** Parses the times of an `at …` phrase into HH:MM strings, or a problem. */
export function parseTimes(phrase: string): { times: string[] } | { problem: string } {
  const times: string[] = [];
  const re = /(\d{1,2})(?::(\d{2}))?\s?(am|pm)?|noon|midday|midnight/g;
  for (const m of phrase.matchAll(re)) {
    if (m[0] === "noon" || m[0] === "midday") {
      times.push("12:00");
      continue;
    }
    if (m[0] === "midnight") {
      times.push("00:00");
      continue;
    }
    let h = Number(m[1]);
    const min = m[2] === undefined ? 0 : Number(m[2]);
    const ampm = m[3];
    if (ampm && (h < 1 || h > 12)) return { problem: `“${m[0].trim()}” is not a time of day` };
    if (ampm === "pm" && h < 12) h += 12;
    if (ampm === "am" && h === 12) h = 0;
    if (h > 23 || min > 59) return { problem: `“${m[0].trim()}” is not a time of day` };
    times.push(`${pad(h)}:${pad(min)}`);
  }
  return { times: [...new Set(times)].sort() };
}

/** Cron minute/hour fields for times; several expressions when the minutes differ. */
function cronFor(times: string[], dom: string, dow: string): string {
  const byMinute = new Map<string, string[]>();
  for (const t of times) {
    const [h, m] = t.split(":") as [string, string];
    byMinute.set(m, [...(byMinute.get(m) ?? []), String(Number(h))]);
  }
  return [...byMinute.entries()]
    .map(([m, hs]) => `${Number(m)} ${hs.join(",")} ${dom} * ${dow}`)
    .join(CRON_SEPARATOR);
}

let zoneIndex: Map<string, string> | undefined;
/** Lower-case names → IANA zone: full names ("europe/paris") and city names ("paris", "new york"). */
function zones(): Map<string, string> {
  if (zoneIndex) return zoneIndex;
  zoneIndex = new Map();
  const list = (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf("timeZone");
  for (const z of list) {
    zoneIndex.set(z.toLowerCase(), z);
    const city = z.split("/").at(-1)!.toLowerCase().replace(/_/g, " ");
    if (!zoneIndex.has(city)) zoneIndex.set(city, z);
  }
  for (const z of ["UTC", "GMT"]) zoneIndex.set(z.toLowerCase(), "UTC");
  return zoneIndex;
}

/** Finds an explicit time zone ("Europe/Paris", "in UTC", "Paris time") and removes it. */
function takeZone(s: string): { text: string; tz?: string; problem?: string } {
  const iana = /(?:\s*,?\s*(?:in|at)?\s*)\b([a-z]+\/[a-z_]+(?:\/[a-z_]+)?)\b(?:\s+time)?/.exec(s);
  if (iana) {
    const tz = zones().get(iana[1]!);
    if (!tz || !isTimeZone(tz)) return { text: s, problem: `“${iana[1]}” is not a time zone I know` };
    return { text: `${s.slice(0, iana.index)} ${s.slice(iana.index + iana[0].length)}`, tz };
  }
  const named = /\s*,?\s*(?:in\s+)?\(?\b(utc|gmt|[a-z]+(?: [a-z]+)?) time\)?/.exec(s);
  if (named) {
    const tz = zones().get(named[1]!);
    if (tz) return { text: `${s.slice(0, named.index)} ${s.slice(named.index + named[0].length)}`, tz };
  }
  const bare = /\s*,?\s*\b(?:in\s+)?(utc|gmt)\b/.exec(s);
  if (bare) return { text: `${s.slice(0, bare.index)} ${s.slice(bare.index + bare[0].length)}`, tz: "UTC" };
  return { text: s };
}

/** Context of one parse. */
export interface WhenContext {
  now: Date;
  /** The person's zone (Slack users.info `tz`, Teams `localTimezone`) or the default. */
  timeZone: string;
}

interface Rule {
  re: RegExp;
  build(
    m: RegExpExecArray,
    times: string[],
    ctx: WhenContext & { tz: string },
  ): Trigger | { problem: string };
  /** Default time when the phrase names none. */
  defaultTime?: string | ((m: RegExpExecArray) => string);
  /** The rule takes no `at` time (intervals). */
  noTime?: boolean;
}

const n = (s: string | undefined) => (s === undefined || s === "a" || s === "an" ? 1 : Number(s));

/** Local date (in tz) of the next `weekday` on or after `from`'s date (today counts). */
function nextWeekday(from: Date, tz: string, weekday: number): string {
  const t = localTime(from, tz);
  return addDays(localDate(from, tz), (weekday - t.weekday + 7) % 7);
}

function onceAt(ymd: string, time: string, tz: string): Trigger {
  const [y, mo, d] = ymd.split("-").map(Number) as [number, number, number];
  const [h, mi] = time.split(":").map(Number) as [number, number];
  return { type: "once", at: zonedInstant(tz, y, mo, d, h, mi).toISOString(), tz };
}

/** Furthest "in N minutes/hours/days" accepted (10 years; a Date beyond year 9999 is not even valid ISO). */
const MAX_AHEAD_MS = 3653 * 86_400_000;
/** Longest "every N minutes/hours" (a year; the definition schema's interval limit is 366 days). */
const MAX_INTERVAL_MINUTES = 366 * 24 * 60;

const RULES: Rule[] = [
  // in 20 minutes / in an hour / in 2 days
  {
    re: /\bin (\d+|an?|half an?) ?(minutes?|mins?|hours?|hrs?|days?)\b/,
    noTime: true,
    build(m, _t, ctx) {
      const unit = m[2]!.startsWith("m") ? 60_000 : m[2]!.startsWith("h") ? 3_600_000 : 86_400_000;
      const count = m[1]!.startsWith("half") ? 0.5 : n(m[1]);
      if (!(count * unit <= MAX_AHEAD_MS)) return { problem: "that is more than 10 years ahead" };
      return { type: "once", at: new Date(ctx.now.getTime() + count * unit).toISOString(), tz: ctx.tz };
    },
  },
  // tomorrow at 8 / today at 5pm / tonight
  {
    re: /\b(tomorrow|today|tonight|yesterday)(?: morning| evening| afternoon)?\b/,
    defaultTime: (m) =>
      m[1] === "tonight"
        ? "20:00"
        : m[0].includes("evening")
          ? "18:00"
          : m[0].includes("afternoon")
            ? "14:00"
            : "09:00",
    build(m, times, ctx) {
      const ymd = addDays(
        localDate(ctx.now, ctx.tz),
        m[1] === "tomorrow" ? 1 : m[1] === "yesterday" ? -1 : 0,
      );
      return onceAt(ymd, times[0]!, ctx.tz);
    },
  },
  // on 2026-12-24 / on december 24 / on 24 december
  {
    re: new RegExp(
      String.raw`\bon (?:(\d{4})-(\d{2})-(\d{2})|(${MONTHS.join("|")})[a-z]* (\d{1,2})(?:st|nd|rd|th)?|(\d{1,2})(?:st|nd|rd|th)? (?:of )?(${MONTHS.join("|")})[a-z]*)\b`,
    ),
    defaultTime: "09:00",
    build(m, times, ctx) {
      const year0 = localTime(ctx.now, ctx.tz).year;
      const mon = m[2] ? Number(m[2]) : MONTHS.indexOf((m[4] ?? m[7])!) + 1;
      const day = Number(m[3] ?? m[5] ?? m[6]);
      const year = m[1] ? Number(m[1]) : year0;
      const check = new Date(Date.UTC(year, mon - 1, day));
      if (check.getUTCMonth() !== mon - 1) return { problem: `there is no day ${day} in that month` };
      let ymd = `${year}-${pad(mon)}-${pad(day)}`;
      if (!m[1] && ymd < localDate(ctx.now, ctx.tz)) ymd = `${year + 1}-${pad(mon)}-${pad(day)}`;
      return onceAt(ymd, times[0]!, ctx.tz);
    },
  },
  // every other friday / every 2 weeks on monday / biweekly on tuesday
  {
    re: new RegExp(
      String.raw`\b(?:every (?:other|second|2nd|alternate) (${DAY_ALT})|(?:every (\d+) weeks|fortnightly|biweekly|every fortnight) on (${DAY_ALT}))\b`,
    ),
    defaultTime: "09:00",
    build(m, times, ctx) {
      const day = dayOf((m[1] ?? m[3])!)!;
      const every = m[2] ? Number(m[2]) : 2;
      if (every < 1 || every > 52) return { problem: "the number of weeks must be between 1 and 52" };
      // The first run is the next such day (today when its time is still ahead).
      let anchor = nextWeekday(ctx.now, ctx.tz, day);
      const first = onceAt(anchor, times[0]!, ctx.tz);
      if (first.type === "once" && new Date(first.at) <= ctx.now) anchor = addDays(anchor, 7);
      return { type: "weeks", every, weekdays: [day], times, anchor, tz: ctx.tz };
    },
  },
  // the first monday of every month / the last friday of the month / first weekday of the month
  {
    re: new RegExp(
      String.raw`\b(?:on )?(?:the )?${ORD} (${DAY_ALT}|weekday|business day|working day|workday|day) (?:of|in) (?:every|each|the) month\b|\b(?:every|each) month on the ${ORD} (${DAY_ALT}|weekday|business day|working day|workday|day)\b`,
    ),
    defaultTime: "09:00",
    build(m, times) {
      const ord = (m[1] ?? m[3])!;
      const what = (m[2] ?? m[4])!;
      const last = ord === "last";
      const tz = "";
      if (/weekday|business|working|workday/.test(what)) {
        if (!last && ordinal(ord) !== 1)
          return { problem: `I can schedule the first or the last weekday of a month, not the ${ord}` };
        return { type: "cron", expr: cronFor(times, last ? "LW" : "1W", "*"), tz };
      }
      if (what === "day") {
        if (last) return { type: "cron", expr: cronFor(times, "L", "*"), tz };
        return { type: "cron", expr: cronFor(times, String(ordinal(ord)), "*"), tz };
      }
      const day = dayOf(what)!;
      // Not "1-7 * 1": standard cron ORs day-of-month with day-of-week (every day of that week).
      return { type: "cron", expr: cronFor(times, "*", last ? `${day}L` : `${day}#${ordinal(ord)}`), tz };
    },
  },
  // on the 15th of every month / every month on the 1st / monthly on the 3rd / the last day of the month
  {
    re: /\b(?:(?:on )?the (\d{1,2})(?:st|nd|rd|th)? (?:of|in) (?:every|each|the) month|(?:every|each) month on the (\d{1,2})(?:st|nd|rd|th)?|monthly on the (\d{1,2})(?:st|nd|rd|th)?)\b/,
    defaultTime: "09:00",
    build(m, times) {
      const day = Number(m[1] ?? m[2] ?? m[3]);
      if (day < 1 || day > 31) return { problem: `there is no day ${day} in a month` };
      if (day > 28)
        return {
          problem: `day ${day} does not exist in every month — say “the last day of the month” instead`,
        };
      return { type: "cron", expr: cronFor(times, String(day), "*"), tz: "" };
    },
  },
  // every month / monthly
  {
    re: /\b(?:every month|each month|monthly)\b/,
    defaultTime: "09:00",
    build: (_m, times) => ({ type: "cron", expr: cronFor(times, "1", "*"), tz: "" }),
  },
  // every weekday / on weekdays / monday to friday / mon-fri
  {
    re: /\b(?:(?:every|each|on) (?:weekday|workday|business day|working day)s?|weekdays|workdays|(?:from )?mon(?:day)? ?(?:to|through|thru|-) ?fri(?:day)?)\b/,
    defaultTime: "09:00",
    build: (_m, times) => ({ type: "cron", expr: cronFor(times, "*", "1-5"), tz: "" }),
  },
  // every weekend / on weekends
  {
    re: /\b(?:every weekend|on weekends|weekends)\b/,
    defaultTime: "10:00",
    build: (_m, times) => ({ type: "cron", expr: cronFor(times, "*", "0,6"), tz: "" }),
  },
  // every N minutes / every hour / hourly / every half hour
  {
    re: /\b(?:every (\d+) ?(minutes?|mins?|hours?|hrs?)|every (minute|hour)|(hourly)|every (half hour|quarter hour|quarter of an hour))\b/,
    noTime: true,
    build(m, _t, ctx) {
      let minutes: number;
      if (m[1]) minutes = Number(m[1]) * (m[2]!.startsWith("h") ? 60 : 1);
      else if (m[3]) minutes = m[3] === "minute" ? 1 : 60;
      else if (m[4]) minutes = 60;
      else minutes = m[5] === "half hour" ? 30 : 15;
      if (minutes < 1) return { problem: "the interval must be at least one minute" };
      if (!(minutes <= MAX_INTERVAL_MINUTES)) return { problem: "the interval must be at most a year" };
      if (minutes < 60 && 60 % minutes === 0)
        return { type: "cron", expr: minutes === 1 ? "* * * * *" : `*/${minutes} * * * *`, tz: "" };
      if (minutes % 60 === 0 && 24 % (minutes / 60) === 0) {
        const h = minutes / 60;
        return { type: "cron", expr: h === 1 ? "0 * * * *" : `0 */${h} * * *`, tz: "" };
      }
      // Not a divisor of the hour or day: fixed elapsed time from the next whole minute (hour).
      const unit = minutes % 60 === 0 ? 3_600_000 : 60_000;
      const anchor = new Date(Math.ceil((ctx.now.getTime() + 1) / unit) * unit);
      return { type: "interval", seconds: minutes * 60, anchor: anchor.toISOString(), tz: ctx.tz };
    },
  },
  // every day / daily / every morning / every evening
  {
    re: /\b(?:every|each) (day|morning|evening|night|afternoon)\b|\b(daily)\b/,
    defaultTime: (m) =>
      ({ morning: "09:00", evening: "18:00", night: "21:00", afternoon: "14:00" })[m[1] ?? ""] ?? "09:00",
    build: (_m, times) => ({ type: "cron", expr: cronFor(times, "*", "*"), tz: "" }),
  },
  // every week / weekly (on a day)
  {
    re: new RegExp(String.raw`\b(?:every week|each week|weekly)(?: on (${DAY_ALT}))?\b`),
    defaultTime: "09:00",
    build: (m, times) => ({
      type: "cron",
      expr: cronFor(times, "*", String(m[1] ? dayOf(m[1]) : 1)),
      tz: "",
    }),
  },
  // every monday / mondays and thursdays / every tue, wed and fri
  {
    re: new RegExp(
      String.raw`\b(?:(?:every|each|on) )?(${DAY_ALT}(?:(?:\s*,\s*|\s+and\s+|\s*&\s*|\s+or\s+)${DAY_ALT})*)\b`,
    ),
    defaultTime: "09:00",
    build(m, times, ctx) {
      const words = m[1]!.split(/\s*,\s*|\s+and\s+|\s*&\s*|\s+or\s+/);
      const days = [
        ...new Set(words.map((w) => dayOf(w)).filter((d): d is number => d !== undefined)),
      ].sort();
      const recurring = /^(every|each)\b/.test(m[0]) || words.some((w) => /s$/.test(w)) || days.length > 1;
      if (!recurring) {
        // "on friday at 3pm": a one-off on the next such day.
        let ymd = nextWeekday(ctx.now, ctx.tz, days[0]!);
        const first = onceAt(ymd, times[0]!, ctx.tz);
        if (first.type === "once" && new Date(first.at) <= ctx.now) ymd = addDays(ymd, 7);
        return onceAt(ymd, times[0]!, ctx.tz);
      }
      return { type: "cron", expr: cronFor(times, "*", days.join(",")), tz: "" };
    },
  },
];

/** `at 5pm` alone: a one-off today (tomorrow when that time has passed). */
function bareTime(times: string[], ctx: WhenContext & { tz: string }): Trigger {
  let ymd = localDate(ctx.now, ctx.tz);
  const today = onceAt(ymd, times[0]!, ctx.tz);
  if (today.type === "once" && new Date(today.at) <= ctx.now) ymd = addDays(ymd, 1);
  return onceAt(ymd, times[0]!, ctx.tz);
}

/** Cuts `[start, end)` out of `s`. */
const cut = (s: string, start: number, end: number) =>
  `${s.slice(0, start)} ${s.slice(end)}`.replace(/\s+/g, " ").trim();

/**
 * Finds the schedule in a normalised request.
 * @returns the trigger and the request without the schedule words; `{ok: false, problem}` when a
 *   schedule was found but is wrong; `{ok: false}` when there is none.
 */
export function parseWhen(text: string, ctx: WhenContext): WhenResult {
  const zone = takeZone(text);
  if (zone.problem) return { ok: false, problem: zone.problem };
  const tz = zone.tz ?? ctx.timeZone;
  const s = zone.text.replace(/\s+/g, " ").trim();
  const notes: string[] = [];
  if (zone.tz) notes.push(`Time zone: ${tz}.`);
  // The schedule is the earliest phrase that names one (a reminder's own words, such as "today"
  // in "every weekday remind us to plan today", come later); ties go to the more specific rule.
  let found: { rule: Rule; m: RegExpExecArray } | undefined;
  for (const rule of RULES) {
    const m = rule.re.exec(s);
    if (m && (!found || m.index < found.m.index)) found = { rule, m };
  }
  if (found) {
    const { rule, m } = found;
    let rest = cut(s, m.index, m.index + m[0].length);
    let times: string[] = [];
    if (!rule.noTime) {
      const at = new RegExp(String.raw`\b${AT}`).exec(rest);
      if (at) {
        const parsed = parseTimes(at[0].replace(/^(?:at|@)\s+/, ""));
        if ("problem" in parsed) return { ok: false, problem: parsed.problem };
        times = parsed.times;
        rest = cut(rest, at.index, at.index + at[0].length);
      } else {
        const d = rule.defaultTime;
        times = [typeof d === "function" ? d(m) : (d ?? "09:00")];
        notes.push(`No time was given, so I picked ${times[0]}.`);
      }
    }
    const built = rule.build(m, times, { ...ctx, tz });
    if ("problem" in built) return { ok: false, problem: built.problem };
    const trigger = { ...built, tz } as Trigger;
    return { ok: true, trigger, rest, notes };
  }
  const at = new RegExp(String.raw`\b${AT}`).exec(s);
  if (at) {
    const parsed = parseTimes(at[0].replace(/^(?:at|@)\s+/, ""));
    if ("problem" in parsed) return { ok: false, problem: parsed.problem };
    const rest = cut(s, at.index, at.index + at[0].length);
    if (parsed.times.length > 1) {
      // "at 1:30am and 1:30pm": several times a day means every day.
      notes.push("Several times of day and no days were given, so it runs every day.");
      return {
        ok: true,
        trigger: { type: "cron", expr: cronFor(parsed.times, "*", "*"), tz },
        rest,
        notes,
        bare: false,
      };
    }
    return { ok: true, trigger: bareTime(parsed.times, { ...ctx, tz }), rest, notes, bare: true };
  }
  return { ok: false };
}
