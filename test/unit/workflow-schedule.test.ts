import { describe, expect, it } from "vitest";
import { formatWhen, localDate, wallKey } from "../../src/workflows/clock.ts";
import type { Trigger } from "../../src/workflows/definition.ts";
import { parseRequest } from "../../src/workflows/grammar/index.ts";
import { planReply } from "../../src/workflows/plan.ts";
import { dstNote, nextRuns, runsBetween } from "../../src/workflows/schedule.ts";

const NY = "America/New_York";

/** Parses a request at a fake "now" in a zone and returns its trigger (fails the test on refusal). */
function triggerOf(text: string, now: string, timeZone = NY, minIntervalSeconds = 3600): Trigger {
  const r = parseRequest(text, { now: new Date(now), timeZone, timeZoneKnown: true, minIntervalSeconds });
  if (!r.ok) throw new Error(`refused: ${r.reason}`);
  return r.definition.trigger;
}

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

describe("workflow schedules across DST", () => {
  it("“every day at 2:30am” on the spring-forward day in New York runs once, at 03:00, and the plan says so", () => {
    const now = "2026-03-07T17:00:00Z"; // Sat 7 Mar 12:00 in New York
    const t = triggerOf("every day at 2:30am remind me to back up", now);
    const runs = nextRuns(t, new Date(now), 3);
    expect(iso(runs)).toEqual([
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
      "2026-03-10T06:30:00.000Z",
    ]);
    expect(runs.filter((d) => localDate(d, NY) === "2026-03-08")).toHaveLength(1);
    expect(formatWhen(runs[0]!, NY)).toBe("Sun 8 Mar 03:00");

    const r = parseRequest("every day at 2:30am remind me to back up", {
      now: new Date(now),
      timeZone: NY,
      timeZoneKnown: true,
      minIntervalSeconds: 3600,
    });
    if (!r.ok) throw new Error(r.reason);
    const plan = planReply({ draftId: "d1", definition: r.definition, notes: r.notes, now: new Date(now) });
    expect(plan.text).toContain("Next: Sun 8 Mar 03:00, Mon 9 Mar 02:30, Tue 10 Mar 02:30");
    expect(plan.text).toContain(
      "On Sun 8 Mar 02:30 does not exist in America/New_York (clocks go forward), so that day it runs once, at 03:00.",
    );
    expect(plan.actions.map((a) => a.label)).toEqual(["Confirm", "Cancel"]);
  });

  it("“at 1:30am and 1:30pm” on the fall-back day in New York runs twice that day, not three times", () => {
    const t = triggerOf("every day at 1:30am and 1:30pm remind me to stretch", "2026-10-31T16:00:00Z");
    const day = runsBetween(t, new Date("2026-11-01T04:00:00Z"), new Date("2026-11-02T04:59:59Z"));
    expect(iso(day)).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-01T18:30:00.000Z"]);
    expect(dstNote(t, new Date("2026-10-31T16:00:00Z"))).toBe(
      "On Sun 1 Nov 01:30 happens twice in America/New_York (clocks go back); it runs once, at the first 01:30.",
    );
  });

  it("“every 30 minutes” keeps running through the repeated hour", () => {
    const t = triggerOf("every 30 minutes post a digest of new documents", "2026-10-31T16:00:00Z", NY, 60);
    const runs = runsBetween(t, new Date("2026-11-01T04:30:00Z"), new Date("2026-11-01T08:00:00Z"));
    expect(runs).toHaveLength(8);
    for (let i = 1; i < runs.length; i++) expect(runs[i]!.getTime() - runs[i - 1]!.getTime()).toBe(1_800_000);
    const walls = runs.map((d) => wallKey(d, NY).slice(11));
    expect(walls).toEqual(["00:30", "01:00", "01:30", "01:00", "01:30", "02:00", "02:30", "03:00"]);
  });

  it("“first Monday of every month at 9” → 1 Jun, 6 Jul, 3 Aug 2026 (not the OR-semantics 0 9 1-7 * 1)", () => {
    const now = "2026-05-15T16:00:00Z";
    const t = triggerOf("first Monday of every month at 9 remind the team to send expenses", now);
    expect(t).toMatchObject({ type: "cron", expr: "0 9 * * 1#1" });
    const runs = nextRuns(t, new Date(now), 3);
    expect(runs.map((d) => wallKey(d, NY))).toEqual([
      "2026-06-01 09:00",
      "2026-07-06 09:00",
      "2026-08-03 09:00",
    ]);
    // Standard cron ORs day-of-month with day-of-week: that pattern would also fire on 18 and 25 May.
    const or: Trigger = { type: "cron", expr: "0 9 1-7 * 1", tz: NY };
    expect(nextRuns(or, new Date(now), 1).map((d) => wallKey(d, NY))).toEqual(["2026-05-18 09:00"]);
  });

  it("“every other Friday at 3pm” in Europe/Paris runs every 14 days at 15:00 local, across the March change", () => {
    const now = "2027-03-01T10:00:00Z"; // Mon 1 Mar 2027
    const t = triggerOf("every other Friday at 3pm remind me to submit the timesheet", now, "Europe/Paris");
    expect(t).toMatchObject({ type: "weeks", every: 2, weekdays: [5], times: ["15:00"], tz: "Europe/Paris" });
    const runs = nextRuns(t, new Date(now), 4);
    expect(runs.map((d) => wallKey(d, "Europe/Paris"))).toEqual([
      "2027-03-05 15:00",
      "2027-03-19 15:00",
      "2027-04-02 15:00",
      "2027-04-16 15:00",
    ]);
    // 15:00 CET is 14:00 UTC; after 28 March it is CEST, 13:00 UTC.
    expect(iso(runs.slice(1, 3))).toEqual(["2027-03-19T14:00:00.000Z", "2027-04-02T13:00:00.000Z"]);
  });

  it("Europe/Berlin: a daily 02:30 job runs once on the spring-forward day (03:00) and once on the fall-back day", () => {
    const spring = triggerOf(
      "every day at 2:30 remind me to rotate logs",
      "2026-03-28T12:00:00Z",
      "Europe/Berlin",
    );
    const onSpringDay = runsBetween(
      spring,
      new Date("2026-03-28T23:00:00Z"),
      new Date("2026-03-29T21:59:59Z"),
    );
    expect(iso(onSpringDay)).toEqual(["2026-03-29T01:00:00.000Z"]);
    expect(wallKey(onSpringDay[0]!, "Europe/Berlin")).toBe("2026-03-29 03:00");
    const fall = triggerOf(
      "every day at 2:30 remind me to rotate logs",
      "2026-10-24T12:00:00Z",
      "Europe/Berlin",
    );
    const onFallDay = runsBetween(fall, new Date("2026-10-24T22:00:00Z"), new Date("2026-10-25T22:59:59Z"));
    expect(iso(onFallDay)).toEqual(["2026-10-25T00:30:00.000Z"]);
  });

  it("New York: the daily 02:30 job runs once on the fall-back day too", () => {
    const t = triggerOf("every day at 2:30am remind me to back up", "2026-10-31T16:00:00Z");
    const day = runsBetween(t, new Date("2026-11-01T04:00:00Z"), new Date("2026-11-02T04:59:59Z"));
    expect(iso(day)).toEqual(["2026-11-01T07:30:00.000Z"]);
  });

  it("“every 15 minutes” is refused below the minimum interval, with the reason", () => {
    const r = parseRequest("every 15 minutes post a digest of new documents here", {
      now: new Date("2026-12-01T15:00:00Z"),
      timeZone: NY,
      timeZoneKnown: true,
      minIntervalSeconds: 3600,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toBe(
      "Runs would be 15 minutes apart, and the shortest interval allowed here is 1 hour (ATOM_WORKFLOW_MIN_INTERVAL_SECONDS=3600). Pick a longer interval, such as “every hour”.",
    );
    // Allowed when the setting permits it.
    expect(
      triggerOf("every 15 minutes post a digest of new documents here", "2026-12-01T15:00:00Z", NY, 900),
    ).toMatchObject({
      expr: "*/15 * * * *",
    });
  });

  it("a one-off in the past is refused", () => {
    const ctx = {
      now: new Date("2026-12-01T15:00:00Z"),
      timeZone: NY,
      timeZoneKnown: true,
      minIntervalSeconds: 3600,
    };
    for (const text of [
      "on 2026-01-05 at 9 remind me to renew",
      "yesterday at 9 remind me to call",
      "today at 8am remind me to plan",
    ]) {
      const r = parseRequest(text, ctx);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(/in the past/);
    }
  });
});
