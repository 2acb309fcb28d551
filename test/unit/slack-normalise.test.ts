import { describe, expect, it } from "vitest";
import { cannotBeForAtom, filesOf, messageOf, skipReason } from "../../src/adapters/slack/normalise.ts";
import {
  blockActions,
  callbackWorkspace,
  identityOf,
  messageCallback,
  slashCommand,
} from "../../src/adapters/slack/payloads.ts";
import { isVoiceNote } from "../../src/voice/index.ts";
import {
  appMention,
  blockActionsBody,
  eventCallback,
  messageEvent,
  slackFile,
  slashCommandBody,
} from "../helpers/slack.ts";

const bot = { botUserId: "UBOT1", botId: "BBOT1", teamId: "T1" };

describe("Slack payloads: identity of a delivery", () => {
  it("the app_mention and message twins of one message share an identity; retries too", () => {
    const ts = "1717000000.000100";
    const mention = messageCallback.parse(
      eventCallback({
        teamId: "T1",
        event: appMention({ botUserId: "UBOT1", text: "hi", channel: "C1", ts }),
      }),
    );
    const message = messageCallback.parse(
      eventCallback({ teamId: "T1", event: messageEvent({ text: "<@UBOT1> hi", channel: "C1", ts }) }),
    );
    expect(identityOf({ source: "event", body: mention })).toBe(`msg:C1:${ts}`);
    expect(identityOf({ source: "event", body: message })).toBe(
      identityOf({ source: "event", body: mention }),
    );
    expect(callbackWorkspace(mention)).toBe("T1");
    // Another message in the same channel is another identity.
    const other = messageCallback.parse(
      eventCallback({
        teamId: "T1",
        event: messageEvent({ text: "x", channel: "C1", ts: "1717000000.000101" }),
      }),
    );
    expect(identityOf({ source: "event", body: other })).not.toBe(
      identityOf({ source: "event", body: mention }),
    );
  });

  it("a command is identified by its trigger_id, a button press by its container and action_ts", () => {
    const c = slashCommand.parse(
      Object.fromEntries(
        new URLSearchParams(
          slashCommandBody({
            teamId: "T1",
            text: "help",
            responseUrl: "https://hooks.slack.com/x",
            triggerId: "13345224609.738474920.8088930838d88f008e0",
          }),
        ),
      ),
    );
    expect(identityOf({ source: "command", body: c })).toBe("cmd:13345224609.738474920.8088930838d88f008e0");
    const payload = JSON.parse(
      new URLSearchParams(
        blockActionsBody({
          teamId: "T1",
          actionId: "feedback_up",
          value: "a1",
          responseUrl: "https://hooks.slack.com/y",
          channelId: "C9",
          messageTs: "1718000001.000001",
        }),
      ).get("payload") ?? "{}",
    ) as Record<string, unknown>;
    const a = blockActions.parse({
      ...payload,
      actions: [{ ...(payload.actions as object[])[0], action_ts: "1718000002.5" }],
    });
    expect(identityOf({ source: "action", body: a })).toBe(
      "act:C9:1718000001.000001:feedback_up:1718000002.5",
    );
  });

  it("strips fields Atom does not read (the legacy verification token)", () => {
    const parsed = messageCallback.parse(eventCallback({ teamId: "T1", event: messageEvent({ text: "x" }) }));
    expect(JSON.stringify(parsed)).not.toContain("legacy-verification-token");
  });
});

describe("Slack normalise", () => {
  it("flags slack_audio clips as voice notes even when the MIME type says video; ordinary videos are not", () => {
    const files = filesOf(
      [
        slackFile({
          id: "F1",
          url: "https://files.slack.com/a",
          subtype: "slack_audio",
          mimetype: "video/mp4",
          durationMs: 4200,
        }),
        slackFile({ id: "F2", url: "https://files.slack.com/b", name: "demo.mp4", mimetype: "video/mp4" }),
        slackFile({ id: "F3", url: "https://files.slack.com/c", name: "memo.m4a", mimetype: "audio/x-m4a" }),
      ] as never,
      async () => Buffer.alloc(0),
    );
    expect(files.map((f) => [f.id, f.isVoiceNote, isVoiceNote(f)])).toEqual([
      ["F1", true, true],
      ["F2", false, false],
      ["F3", true, true],
    ]);
    expect(files[0]?.durationSeconds).toBeCloseTo(4.2);
  });

  it("skips edits, joins, Atom's own messages and bots that are not allowed", () => {
    const ev = (p: Parameters<typeof messageEvent>[0]) =>
      messageCallback.parse(eventCallback({ teamId: "T1", event: messageEvent(p) })).event;
    const allowed = new Set(["BFRIEND"]);
    expect(skipReason(ev({ text: "x", subtype: "message_changed" }), bot, allowed)).toMatch(/subtype/);
    expect(skipReason(ev({ text: "x", subtype: "channel_join" }), bot, allowed)).toMatch(/subtype/);
    expect(skipReason(ev({ text: "x", botId: "BBOT1", subtype: "bot_message" }), bot, allowed)).toMatch(
      /own/,
    );
    expect(skipReason(ev({ text: "x", user: "UBOT1" }), bot, allowed)).toMatch(/own/);
    expect(skipReason(ev({ text: "x", botId: "BOTHER", subtype: "bot_message" }), bot, allowed)).toMatch(
      /another bot/,
    );
    expect(
      skipReason(ev({ text: "x", botId: "BFRIEND", subtype: "bot_message" }), bot, allowed),
    ).toBeUndefined();
    expect(skipReason(ev({ text: "x", subtype: "file_share" }), bot, allowed)).toBeUndefined();
  });

  it("channel chatter outside a thread that mentions nobody cannot be for Atom; DMs, threads and mentions may be", () => {
    const ev = (p: Parameters<typeof messageEvent>[0]) =>
      messageCallback.parse(eventCallback({ teamId: "T1", event: messageEvent(p) })).event;
    expect(cannotBeForAtom(ev({ text: "lunch?" }), bot)).toBe(true);
    expect(cannotBeForAtom(ev({ text: "<@UOTHER> lunch?" }), bot)).toBe(true);
    expect(cannotBeForAtom(ev({ text: "<@UBOT1> lunch?" }), bot)).toBe(false);
    expect(cannotBeForAtom(ev({ text: "<@UOTHER> lunch?" }), undefined)).toBe(false);
    expect(cannotBeForAtom(ev({ text: "lunch?", channelType: "im" }), bot)).toBe(false);
    expect(cannotBeForAtom(ev({ text: "and then?", threadTs: "1717000000.000100" }), bot)).toBe(false);
  });

  it("a message becomes a core message in its thread, with the mention removed and the channel's sharing", () => {
    const body = messageCallback.parse({
      ...eventCallback({
        teamId: "T1",
        event: messageEvent({
          text: "<@UBOT1> budget?",
          channel: "C1",
          ts: "1717000300.000400",
          threadTs: "1717000000.000100",
        }),
      }),
      is_ext_shared_channel: true,
    });
    const m = messageOf(body, { tenantId: "default", bot, files: [] });
    expect(m).toMatchObject({
      platform: "slack",
      channelId: "C1",
      threadId: "1717000000.000100",
      messageId: "1717000300.000400",
      text: "budget?",
      mentionsBot: true,
      isDirect: false,
      visibility: "thread",
      isExternallyShared: true,
    });
  });
});
