import { describe, expect, it } from "vitest";
import { formatWhen } from "../../src/workflows/clock.ts";
import { EXAMPLES, parseRequest } from "../../src/workflows/grammar/index.ts";
import { describeTrigger, nextRuns } from "../../src/workflows/schedule.ts";

/** The fake clock: Tue 1 Dec 2026 10:00 in New York. */
const NOW = new Date("2026-12-01T15:00:00Z");
const ctx = { now: NOW, timeZone: "America/New_York", timeZoneKnown: true, minIntervalSeconds: 3600 };

/** [request, schedule in words, next three runs (local), workflow name] */
const SUPPORTED: [string, string, string, string][] = [
  [
    "every day at 9 remind me to check the inbox",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: check the inbox",
  ],
  [
    "every day at 9:30 remind me to stretch",
    "Every day at 09:30 (America/New_York)",
    "Wed 2 Dec 09:30, Thu 3 Dec 09:30, Fri 4 Dec 09:30",
    "Reminder: stretch",
  ],
  [
    "every day at 18:00 remind me to log hours",
    "Every day at 18:00 (America/New_York)",
    "Tue 1 Dec 18:00, Wed 2 Dec 18:00, Thu 3 Dec 18:00",
    "Reminder: log hours",
  ],
  [
    "every day at 9am remind me to plan",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: plan",
  ],
  [
    "every day at 9 am remind me to plan",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: plan",
  ],
  [
    "every day at 6pm remind me to go home",
    "Every day at 18:00 (America/New_York)",
    "Tue 1 Dec 18:00, Wed 2 Dec 18:00, Thu 3 Dec 18:00",
    "Reminder: go home",
  ],
  [
    "daily at 7:45 remind us to water the plants",
    "Every day at 07:45 (America/New_York)",
    "Wed 2 Dec 07:45, Thu 3 Dec 07:45, Fri 4 Dec 07:45",
    "Reminder: water the plants",
  ],
  [
    "every morning remind me to drink water",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: drink water",
  ],
  [
    "every evening remind me to close the laptop",
    "Every day at 18:00 (America/New_York)",
    "Tue 1 Dec 18:00, Wed 2 Dec 18:00, Thu 3 Dec 18:00",
    "Reminder: close the laptop",
  ],
  [
    "every weekday at 9 post a digest of new documents here",
    "Every weekday at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Digest of new documents",
  ],
  [
    "every weekday at 9 post new Drive docs about pricing to this thread",
    "Every weekday at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Digest: pricing",
  ],
  [
    "on weekdays at 8:15 remind the team to check the dashboard",
    "Every weekday at 08:15 (America/New_York)",
    "Wed 2 Dec 08:15, Thu 3 Dec 08:15, Fri 4 Dec 08:15",
    "Reminder: check the dashboard",
  ],
  [
    "monday to friday at noon remind me to eat",
    "Every weekday at 12:00 (America/New_York)",
    "Tue 1 Dec 12:00, Wed 2 Dec 12:00, Thu 3 Dec 12:00",
    "Reminder: eat",
  ],
  [
    "every Monday at 9 am remind me to review the sales dashboard",
    "Every Monday at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    "Reminder: review the sales dashboard",
  ],
  [
    "remind me every Monday at 9am to review the sales dashboard",
    "Every Monday at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    "Reminder: review the sales dashboard",
  ],
  [
    "every tuesday and thursday at 10 remind us about the sync",
    "Every Tuesday and Thursday at 10:00 (America/New_York)",
    "Thu 3 Dec 10:00, Tue 8 Dec 10:00, Thu 10 Dec 10:00",
    "Reminder: the sync",
  ],
  [
    "mondays and wednesdays at 14:00 remind me to call Ana",
    "Every Monday and Wednesday at 14:00 (America/New_York)",
    "Wed 2 Dec 14:00, Mon 7 Dec 14:00, Wed 9 Dec 14:00",
    "Reminder: call Ana",
  ],
  [
    "every weekend at 10 remind me to rest",
    "Every Saturday and Sunday at 10:00 (America/New_York)",
    "Sat 5 Dec 10:00, Sun 6 Dec 10:00, Sat 12 Dec 10:00",
    "Reminder: rest",
  ],
  [
    "every saturday at 11pm remind me to back up",
    "Every Saturday at 23:00 (America/New_York)",
    "Sat 5 Dec 23:00, Sat 12 Dec 23:00, Sat 19 Dec 23:00",
    "Reminder: back up",
  ],
  [
    "every hour post a digest of new documents",
    "Every hour, on the hour (America/New_York)",
    "Tue 1 Dec 11:00, Tue 1 Dec 12:00, Tue 1 Dec 13:00",
    "Digest of new documents",
  ],
  [
    "hourly post a digest of new documents",
    "Every hour, on the hour (America/New_York)",
    "Tue 1 Dec 11:00, Tue 1 Dec 12:00, Tue 1 Dec 13:00",
    "Digest of new documents",
  ],
  [
    "every 2 hours post a digest of new documents",
    "Every 2 hours, on the hour (America/New_York)",
    "Tue 1 Dec 12:00, Tue 1 Dec 14:00, Tue 1 Dec 16:00",
    "Digest of new documents",
  ],
  [
    "every 3 hours post a digest of new documents",
    "Every 3 hours, on the hour (America/New_York)",
    "Tue 1 Dec 12:00, Tue 1 Dec 15:00, Tue 1 Dec 18:00",
    "Digest of new documents",
  ],
  [
    "every 5 hours post a digest of new documents",
    "Every 5 hours, from Tue 1 Dec 11:00 (America/New_York)",
    "Tue 1 Dec 11:00, Tue 1 Dec 16:00, Tue 1 Dec 21:00",
    "Digest of new documents",
  ],
  [
    "every 90 minutes post a digest of new documents",
    "Every 90 minutes, from Tue 1 Dec 10:01 (America/New_York)",
    "Tue 1 Dec 10:01, Tue 1 Dec 11:31, Tue 1 Dec 13:01",
    "Digest of new documents",
  ],
  [
    "every week remind me to plan the sprint",
    "Every Monday at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    "Reminder: plan the sprint",
  ],
  [
    "weekly on friday at 4pm remind me to write the report",
    "Every Friday at 16:00 (America/New_York)",
    "Fri 4 Dec 16:00, Fri 11 Dec 16:00, Fri 18 Dec 16:00",
    "Reminder: write the report",
  ],
  [
    "every month remind me to pay rent",
    "Day 1 of every month at 09:00 (America/New_York)",
    "Fri 1 Jan 2027 09:00, Mon 1 Feb 2027 09:00, Mon 1 Mar 2027 09:00",
    "Reminder: pay rent",
  ],
  [
    "monthly on the 3rd at 10 remind me to send invoices",
    "Day 3 of every month at 10:00 (America/New_York)",
    "Thu 3 Dec 10:00, Sun 3 Jan 2027 10:00, Wed 3 Feb 2027 10:00",
    "Reminder: send invoices",
  ],
  [
    "on the 15th of every month at 10 remind me to pay invoices",
    "Day 15 of every month at 10:00 (America/New_York)",
    "Tue 15 Dec 10:00, Fri 15 Jan 2027 10:00, Mon 15 Feb 2027 10:00",
    "Reminder: pay invoices",
  ],
  [
    "first Monday of every month at 9 remind the team to send expenses",
    "The first Monday of every month at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 4 Jan 2027 09:00, Mon 1 Feb 2027 09:00",
    "Reminder: send expenses",
  ],
  [
    "the first monday of the month at 9 remind me to review goals",
    "The first Monday of every month at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 4 Jan 2027 09:00, Mon 1 Feb 2027 09:00",
    "Reminder: review goals",
  ],
  [
    "every month on the first monday at 8 remind me to book rooms",
    "The first Monday of every month at 08:00 (America/New_York)",
    "Mon 7 Dec 08:00, Mon 4 Jan 2027 08:00, Mon 1 Feb 2027 08:00",
    "Reminder: book rooms",
  ],
  [
    "the second tuesday of every month at 15:00 remind me about patch day",
    "The second Tuesday of every month at 15:00 (America/New_York)",
    "Tue 8 Dec 15:00, Tue 12 Jan 2027 15:00, Tue 9 Feb 2027 15:00",
    "Reminder: patch day",
  ],
  [
    "the last friday of the month at 5pm remind us to celebrate",
    "The last Friday of every month at 17:00 (America/New_York)",
    "Fri 25 Dec 17:00, Fri 29 Jan 2027 17:00, Fri 26 Feb 2027 17:00",
    "Reminder: celebrate",
  ],
  [
    "the first weekday of every month at 9 remind me to check budgets",
    "The first weekday of every month at 09:00 (America/New_York)",
    "Fri 1 Jan 2027 09:00, Mon 1 Feb 2027 09:00, Mon 1 Mar 2027 09:00",
    "Reminder: check budgets",
  ],
  [
    "the last business day of the month at 16:00 remind me to close the books",
    "The last weekday of every month at 16:00 (America/New_York)",
    "Thu 31 Dec 16:00, Fri 29 Jan 2027 16:00, Fri 26 Feb 2027 16:00",
    "Reminder: close the books",
  ],
  [
    "the last day of the month at 18:00 remind me to file expenses",
    "The last day of every month at 18:00 (America/New_York)",
    "Thu 31 Dec 18:00, Sun 31 Jan 2027 18:00, Sun 28 Feb 2027 18:00",
    "Reminder: file expenses",
  ],
  [
    "every other Friday at 3pm Europe/Paris remind me to submit the timesheet",
    "Every other Friday at 15:00 (Europe/Paris)",
    "Fri 4 Dec 15:00, Fri 18 Dec 15:00, Fri 1 Jan 2027 15:00",
    "Reminder: submit the timesheet",
  ],
  [
    "every 2 weeks on monday at 10 remind me about the retro",
    "Every other Monday at 10:00 (America/New_York)",
    "Mon 7 Dec 10:00, Mon 21 Dec 10:00, Mon 4 Jan 2027 10:00",
    "Reminder: the retro",
  ],
  [
    "biweekly on thursday at 11 remind me about payroll",
    "Every other Thursday at 11:00 (America/New_York)",
    "Thu 3 Dec 11:00, Thu 17 Dec 11:00, Thu 31 Dec 11:00",
    "Reminder: payroll",
  ],
  [
    "in 20 minutes remind me to call Ana",
    "Once, on Tue 1 Dec 10:20 (America/New_York)",
    "Tue 1 Dec 10:20",
    "Reminder: call Ana",
  ],
  [
    "in an hour remind me to stand up",
    "Once, on Tue 1 Dec 11:00 (America/New_York)",
    "Tue 1 Dec 11:00",
    "Reminder: stand up",
  ],
  [
    "in 2 days remind me to follow up",
    "Once, on Thu 3 Dec 10:00 (America/New_York)",
    "Thu 3 Dec 10:00",
    "Reminder: follow up",
  ],
  [
    "tomorrow at 8 post a digest of new documents",
    "Once, on Wed 2 Dec 08:00 (America/New_York)",
    "Wed 2 Dec 08:00",
    "Digest of new documents",
  ],
  [
    "tomorrow remind me to buy milk",
    "Once, on Wed 2 Dec 09:00 (America/New_York)",
    "Wed 2 Dec 09:00",
    "Reminder: buy milk",
  ],
  [
    "today at 5pm remind me to leave",
    "Once, on Tue 1 Dec 17:00 (America/New_York)",
    "Tue 1 Dec 17:00",
    "Reminder: leave",
  ],
  [
    "tonight remind me to read",
    "Once, on Tue 1 Dec 20:00 (America/New_York)",
    "Tue 1 Dec 20:00",
    "Reminder: read",
  ],
  [
    "on friday at 3pm remind me to ship",
    "Once, on Fri 4 Dec 15:00 (America/New_York)",
    "Fri 4 Dec 15:00",
    "Reminder: ship",
  ],
  [
    "on december 24 at 10 remind me to call mom",
    "Once, on Thu 24 Dec 10:00 (America/New_York)",
    "Thu 24 Dec 10:00",
    "Reminder: call mom",
  ],
  [
    "on 2027-01-15 at 9 remind me to renew the domain",
    "Once, on Fri 15 Jan 2027 09:00 (America/New_York)",
    "Fri 15 Jan 2027 09:00",
    "Reminder: renew the domain",
  ],
  [
    "at 5pm remind me to leave",
    "Once, on Tue 1 Dec 17:00 (America/New_York)",
    "Tue 1 Dec 17:00",
    "Reminder: leave",
  ],
  [
    "every day at 1:30am and 1:30pm remind me to stretch",
    "Every day at 01:30 and 13:30 (America/New_York)",
    "Tue 1 Dec 13:30, Wed 2 Dec 01:30, Wed 2 Dec 13:30",
    "Reminder: stretch",
  ],
  [
    "every weekday at 9 in UTC remind me to check alerts",
    "Every weekday at 09:00 (UTC)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: check alerts",
  ],
  [
    "every day at 9 Asia/Tokyo remind me to sync with Tokyo",
    "Every day at 09:00 (Asia/Tokyo)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: sync with Tokyo",
  ],
  [
    "every day at 9 remind me to check the inbox, called Inbox check",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Inbox check",
  ],
  [
    "use the daily digest template for #sales at 8",
    "Every weekday at 08:00 (America/New_York)",
    "Wed 2 Dec 08:00, Thu 3 Dec 08:00, Fri 4 Dec 08:00",
    "Digest of new documents",
  ],
  [
    "use the keyword watch template for pricing",
    "Every hour, on the hour (America/New_York)",
    "Tue 1 Dec 11:00, Tue 1 Dec 12:00, Tue 1 Dec 13:00",
    "Watch: pricing",
  ],
  [
    "use the stand-up reminder template",
    "Every weekday at 09:30 (America/New_York)",
    "Wed 2 Dec 09:30, Thu 3 Dec 09:30, Fri 4 Dec 09:30",
    "Reminder: Post the stand-up: what you did yesterday, what you do today, anything",
  ],
  [
    "use the weekly questions summary template for #support",
    "Every Friday at 16:00 (America/New_York)",
    "Fri 4 Dec 16:00, Fri 11 Dec 16:00, Fri 18 Dec 16:00",
    "Summary of questions asked",
  ],
  [
    "tell me when a new document mentions pricing",
    "Every hour, on the hour (America/New_York)",
    "Tue 1 Dec 11:00, Tue 1 Dec 12:00, Tue 1 Dec 13:00",
    "Watch: pricing",
  ],
  [
    "watch for new documents about security every day at 8",
    "Every day at 08:00 (America/New_York)",
    "Wed 2 Dec 08:00, Thu 3 Dec 08:00, Fri 4 Dec 08:00",
    "Watch: security",
  ],
  [
    "every friday at 4pm summarize the questions asked this week",
    "Every Friday at 16:00 (America/New_York)",
    "Fri 4 Dec 16:00, Fri 11 Dec 16:00, Fri 18 Dec 16:00",
    "Summary of questions asked",
  ],
  [
    "every monday at 9 search for expense policy and post the results",
    "Every Monday at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    "Search: expense policy",
  ],
  [
    "every weekday at 9 post a digest of new documents only if there are new documents",
    "Every weekday at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Digest of new documents",
  ],
  [
    "every weekday at 9 post a digest of new documents, if there are no new documents say All quiet",
    "Every weekday at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Digest of new documents",
  ],
  [
    'every monday at 10 post "Weekly sync in 5 minutes" in #general',
    "Every Monday at 10:00 (America/New_York)",
    "Mon 7 Dec 10:00, Mon 14 Dec 10:00, Mon 21 Dec 10:00",
    "Post: Weekly sync in 5 minutes",
  ],
  [
    "every day at 9 remind me to check the inbox, skip missed runs",
    "Every day at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Reminder: check the inbox",
  ],
  [
    "evrey wekday at 9 post a digset of new documnets",
    "Every weekday at 09:00 (America/New_York)",
    "Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    "Digest of new documents",
  ],
  [
    "remnd me every mondey at 9am to review the dashbord",
    "Every Monday at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 14 Dec 09:00, Mon 21 Dec 09:00",
    "Reminder: review the dashbord",
  ],
  [
    "tommorow at 8 remind me to call the bank",
    "Once, on Wed 2 Dec 08:00 (America/New_York)",
    "Wed 2 Dec 08:00",
    "Reminder: call the bank",
  ],
  [
    "every fridy at 5pm remind me to log off",
    "Every Friday at 17:00 (America/New_York)",
    "Fri 4 Dec 17:00, Fri 11 Dec 17:00, Fri 18 Dec 17:00",
    "Reminder: log off",
  ],
  [
    "evry 2 hours post a digest of new documents",
    "Every 2 hours, on the hour (America/New_York)",
    "Tue 1 Dec 12:00, Tue 1 Dec 14:00, Tue 1 Dec 16:00",
    "Digest of new documents",
  ],
  [
    "the frist monday of evry month at 9 remind me to plan",
    "The first Monday of every month at 09:00 (America/New_York)",
    "Mon 7 Dec 09:00, Mon 4 Jan 2027 09:00, Mon 1 Feb 2027 09:00",
    "Reminder: plan",
  ],
];

/** [request, what the refusal says] */
const REFUSED: [string, RegExp][] = [
  [
    "every minute post a digest of new documents here",
    /Runs would be 1 minute apart, and the shortest interval allowed here i/,
  ],
  [
    "every 15 minutes post a digest of new documents here",
    /Runs would be 15 minutes apart, and the shortest interval allowed here/,
  ],
  [
    "every 30 minutes post a digest of new documents",
    /Runs would be 30 minutes apart, and the shortest interval allowed here/,
  ],
  [
    "whenever someone joins post a welcome",
    /I can run workflows on a schedule \(every day, every Monday, in 20 minu/,
  ],
  [
    "every time a file changes tell me",
    /I can run workflows on a schedule \(every day, every Monday, in 20 minu/,
  ],
  [
    "remind me to water the plants",
    /I couldn't find when this should run \(for example “every weekday at 9”/,
  ],
  ["every day at 25:00 remind me to sleep", /I couldn't use that schedule: “25:00” is not a time of day/],
  ["every day at 13pm remind me to eat", /I couldn't use that schedule: “13pm” is not a time of day/],
  ["yesterday at 9 remind me to call", /That time is in the past, so the workflow would never run/],
  ["in 5 minutes remind me", /I understood when, but not what to do/],
  ["every day at 9 do a barrel roll", /I understood when, but not what to do/],
  ["use the coffee template", /I don't have a template called “coffee”/],
  ["use the keyword watch template", /The keyword watch template needs a keyword, e/],
  [
    "on february 30 at 9 remind me to party",
    /I couldn't use that schedule: there is no day 30 in that month/,
  ],
  [
    "on the 31st of every month at 9 remind me to pay",
    /I couldn't use that schedule: day 31 does not exist in every month — s/,
  ],
  [
    "every day at 9 Mars/Olympus remind me to launch",
    /I couldn't use that schedule: “mars\/olympus” is not a time zone I know/,
  ],
  // Absurd numbers get a reason, not the schema's "Too big: expected number to be <=31622400".
  [
    "every 200000 hours remind me to stretch",
    /I couldn't use that schedule: the interval must be at most a year/,
  ],
  [
    "every 99999999999999999999 minutes remind me to stretch",
    /I couldn't use that schedule: the interval must be at most a year/,
  ],
  [
    "in 99999999999 minutes remind me to stretch",
    /I couldn't use that schedule: that is more than 10 years ahead/,
  ],
  ["in 4000 days remind me to stretch", /I couldn't use that schedule: that is more than 10 years ahead/],
  [
    "the third weekday of the month at 9 remind me to plan",
    /I couldn't use that schedule: I can schedule the first or the last wee/,
  ],
];

describe("workflow grammar (fake clock: Tue 1 Dec 2026 10:00 New York)", () => {
  it("has at least 60 phrases, typos included", () => {
    expect(SUPPORTED.length + REFUSED.length).toBeGreaterThanOrEqual(60);
  });

  it.each(SUPPORTED)("%s", (text, schedule, next, name) => {
    const r = parseRequest(text, ctx);
    if (!r.ok) throw new Error(`refused: ${r.reason}`);
    const t = r.definition.trigger;
    expect(describeTrigger(t, NOW)).toBe(schedule);
    expect(
      nextRuns(t, NOW, 3)
        .map((d) => formatWhen(d, t.tz, NOW))
        .join(", "),
    ).toBe(next);
    expect(r.definition.name).toBe(name);
  });

  it.each(REFUSED)("refuses %s with a reason and two examples that work", (text, reason) => {
    const r = parseRequest(text, ctx);
    if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.definition.trigger)}`);
    expect(r.reason).toMatch(reason);
    expect(r.examples).toHaveLength(2);
    for (const e of r.examples) {
      expect(EXAMPLES).toContain(e);
      expect(parseRequest(e, ctx).ok).toBe(true);
    }
  });
});
