import { describe, expect, it } from "vitest";
import { renderReply } from "../../src/adapters/slack/format.ts";
import { parseCardAction, replyCard } from "../../src/adapters/teams/cards.ts";
import { parseRequest } from "../../src/workflows/grammar/index.ts";
import { planReply } from "../../src/workflows/plan.ts";

const now = new Date("2026-12-01T15:00:00Z");

function plan() {
  const r = parseRequest("every weekday at 9 post a digest of new documents here", {
    now,
    timeZone: "America/New_York",
    timeZoneKnown: true,
    minIntervalSeconds: 3600,
  });
  if (!r.ok) throw new Error(r.reason);
  return planReply({ draftId: "draft-123", definition: r.definition, notes: r.notes, now });
}

describe("the plan as each platform shows it", () => {
  it("states the schedule with the next runs, and the steps", () => {
    expect(plan().text).toContain(
      "When: Every weekday at 09:00 (America/New_York). Next: Wed 2 Dec 09:00, Thu 3 Dec 09:00, Fri 4 Dec 09:00",
    );
    expect(plan().text).toContain("1. Search documents, new or changed since the last run");
    expect(plan().text).toContain("Nothing runs until you press Confirm.");
  });

  it("tells the two branches of a digest apart (the list, or “Nothing new this time.”)", () => {
    const text = plan().text;
    expect(text).toContain("2. If something was found:");
    expect(text).toContain("   2.1. Post to this thread: “New or changed documents — {date} · {results}”");
    expect(text).toContain("   otherwise:");
    expect(text).toContain(
      "   2.1. Post to this thread: “New or changed documents — {date} · Nothing new this time.”",
    );
  });

  it("Slack: Block Kit buttons Confirm / Cancel carrying the plan's id", () => {
    const [message] = renderReply(plan());
    const actions = (message!.blocks as { type: string; elements?: Record<string, unknown>[] }[]).filter(
      (b) => b.type === "actions",
    );
    expect(
      actions
        .flatMap((b) => b.elements ?? [])
        .map((e) => [e.action_id, (e.text as { text: string }).text, e.value]),
    ).toEqual([
      ["workflow:confirm", "Confirm", "draft-123"],
      ["workflow:cancel", "Cancel", "draft-123"],
    ]);
  });

  it("Teams: Adaptive Card actions whose submitted data names the button and the plan", () => {
    const card = replyCard(plan()) as { actions: { type: string; title: string; data: unknown }[] };
    expect(card.actions.map((a) => [a.type, a.title])).toEqual([
      ["Action.Execute", "Confirm"],
      ["Action.Execute", "Cancel"],
    ]);
    expect(parseCardAction(card.actions[0]!.data)).toMatchObject({
      atomAction: "workflow:confirm",
      value: "draft-123",
    });
  });
});
