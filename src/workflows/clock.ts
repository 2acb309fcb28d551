/**
 * Wall-clock helpers for IANA time zones (built on `Intl`, no dependency): the local date and
 * time of an instant, and the instant of a local date and time.
 */

/** A local date and time in some zone. `weekday` 0 = Sunday. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall-clock time of `date` in `tz`. */
export function localTime(date: Date, tz: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(date)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour) % 24,
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS[parts.weekday ?? "Sun"] ?? 0,
  };
}

/** `YYYY-MM-DD HH:MM` of `date` in `tz` (comparable as a string). */
export function wallKey(date: Date, tz: string): string {
  const t = localTime(date, tz);
  return `${t.year}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}`;
}

/** `YYYY-MM-DD` of `date` in `tz`. */
export function localDate(date: Date, tz: string): string {
  const t = localTime(date, tz);
  return `${t.year}-${pad(t.month)}-${pad(t.day)}`;
}

/** Offset of `tz` from UTC at `date`, in minutes (New York in winter: -300). */
export function offsetMinutes(date: Date, tz: string): number {
  const t = localTime(date, tz);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
}

/**
 * The instant of a local wall-clock time in `tz`. A time that does not exist (spring forward)
 * moves forward by the gap (02:30 → 03:30 when clocks jump at 02:00 — callers that want "the
 * next valid time" round themselves); a time that happens twice (fall back) gives the first one.
 */
export function zonedInstant(
  tz: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
): Date {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Two passes settle on an offset valid at the result; try the earlier candidate first.
  const first = guess - offsetMinutes(new Date(guess - 3 * 3_600_000), tz) * 60_000;
  const k1 = wallKey(new Date(first), tz);
  const want = `${year}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}`;
  if (k1 === want) return new Date(first);
  const second = guess - offsetMinutes(new Date(guess + 3 * 3_600_000), tz) * 60_000;
  if (wallKey(new Date(second), tz) === want) return new Date(second);
  return new Date(Math.max(first, second));
}

/** Days since 1970-01-01 of a local date string `YYYY-MM-DD` (calendar arithmetic, no zone). */
export function dayNumber(ymd: string): number {
  const [y, m, d] = ymd.split("-").map(Number) as [number, number, number];
  return Math.floor(Date.UTC(y, m - 1, d) / 86_400_000);
}

/** The local date `days` after `ymd`. */
export function addDays(ymd: string, days: number): string {
  const d = new Date((dayNumber(ymd) + days) * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A short local rendering: `Tue 2 Dec 09:00` (the year is added when it differs from `now`'s). */
export function formatWhen(date: Date, tz: string, now?: Date): string {
  const t = localTime(date, tz);
  const year = now && localTime(now, tz).year !== t.year ? ` ${t.year}` : "";
  return `${DAY_NAMES[t.weekday]} ${t.day} ${MONTH_NAMES[t.month - 1]}${year} ${pad(t.hour)}:${pad(t.minute)}`;
}

/** Two digits. */
export function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** A duration in words: "4 minutes", "2 hours 5 minutes", "3 days". */
export function formatDuration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 1) return `${Math.max(1, Math.round(ms / 1000))} seconds`;
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48)
    return `${hours} hour${hours === 1 ? "" : "s"}${rest ? ` ${rest} minute${rest === 1 ? "" : "s"}` : ""}`;
  const days = Math.round(hours / 24);
  return `${days} days`;
}
