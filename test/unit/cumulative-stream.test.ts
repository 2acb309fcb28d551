import { describe, expect, it } from "vitest";
import { makeReply } from "../../src/bot/reply.ts";
import {
  CumulativeReplyStream,
  type CumulativeStreamTransport,
  type StreamUpdate,
} from "../../src/core/cumulative-stream.ts";
import type { Reply } from "../../src/core/ports.ts";
import { silentLogger } from "../../src/observability/logger.ts";

/** A transport that records what it was asked to post, and when. */
function recorder(opts: { failUpdate?: (u: StreamUpdate) => boolean; failFinal?: boolean } = {}) {
  const log: Array<{ what: string; at: number; u?: StreamUpdate; reply?: Reply; streamId?: string }> = [];
  let n = 0;
  const transport: CumulativeStreamTransport = {
    async update(u) {
      log.push({ what: "update", at: Date.now(), u });
      if (opts.failUpdate?.(u)) throw Object.assign(new Error("refused"), { statusCode: 403 });
      return u.streamId ?? `stream-${++n}`;
    },
    async final(reply, streamId) {
      log.push({ what: "final", at: Date.now(), reply, streamId });
      if (opts.failFinal) throw new Error("final refused");
    },
    async single(reply) {
      log.push({ what: "single", at: Date.now(), reply });
    },
  };
  return { log, transport };
}

const limits = { minIntervalMs: 200, maxInformativeChars: 20, maxTextChars: 40 };
const reply = (text: string) => makeReply({ intent: "ask", text });

describe("CumulativeReplyStream (the core's side of Teams streaming)", () => {
  it("informative first (cut to its limit), then cumulative updates spaced by the interval, then final", async () => {
    const { log, transport } = recorder();
    let started = 0;
    const s = new CumulativeReplyStream(transport, limits, silentLogger, () => started++);
    await s.status?.("searching your documents and notes…");
    const t0 = Date.now();
    for (const piece of ["New ", "teammates ", "can spend ", "$2,000."]) {
      await s.append(piece);
      await new Promise((r) => setTimeout(r, 120));
    }
    // append never waits for the platform.
    expect(Date.now() - t0).toBeLessThan(4 * 120 + 150);
    await s.finish(reply("New teammates can spend $2,000."));
    expect(started).toBe(1);
    expect(s.started).toBe(true);
    const updates = log.filter((l) => l.what === "update").map((l) => l.u!);
    expect(updates[0]).toEqual({
      kind: "informative",
      text: "searching your docum",
      sequence: 1,
      streamId: undefined,
    });
    const streaming = updates.slice(1);
    expect(streaming.length).toBeGreaterThanOrEqual(1);
    streaming.forEach((u, i) => {
      expect(u.kind).toBe("streaming");
      expect(u.sequence).toBe(i + 2);
      expect(u.streamId).toBe("stream-1");
      if (i > 0) expect(u.text.startsWith(streaming[i - 1]!.text)).toBe(true);
    });
    for (let i = 1; i < log.length; i++) expect(log[i]!.at - log[i - 1]!.at).toBeGreaterThanOrEqual(195);
    expect(log.at(-1)).toMatchObject({ what: "final", streamId: "stream-1" });
  });

  it("does not stream text past the limit; the final message carries it", async () => {
    const { log, transport } = recorder();
    const s = new CumulativeReplyStream(transport, limits, silentLogger);
    await s.append("x".repeat(30));
    await new Promise((r) => setTimeout(r, 50));
    await s.append("y".repeat(30));
    await s.finish(reply("x".repeat(30) + "y".repeat(30)));
    const texts = log.filter((l) => l.what === "update").map((l) => l.u!.text.length);
    expect(texts.every((n) => n <= 40)).toBe(true);
    expect(log.at(-1)?.what).toBe("final");
  });

  it("never started: the reply is one ordinary message; a failed update or refused final: one ordinary message", async () => {
    const none = recorder();
    const s0 = new CumulativeReplyStream(none.transport, limits, silentLogger);
    expect(s0.started).toBe(false);

    const broken = recorder({ failUpdate: (u) => u.sequence === 2 });
    const s1 = new CumulativeReplyStream(broken.transport, limits, silentLogger);
    await s1.append("Hello");
    await new Promise((r) => setTimeout(r, 20));
    await s1.append(" world");
    await new Promise((r) => setTimeout(r, 300));
    await s1.append(" again");
    await s1.finish(reply("Hello world again"));
    expect(broken.log.filter((l) => l.what === "update")).toHaveLength(2);
    expect(broken.log.at(-1)).toMatchObject({ what: "single" });
    expect(broken.log.some((l) => l.what === "final")).toBe(false);

    const refused = recorder({ failFinal: true });
    const s2 = new CumulativeReplyStream(refused.transport, limits, silentLogger);
    await s2.append("Hi");
    await s2.finish(reply("Hi"));
    expect(refused.log.map((l) => l.what)).toEqual(["update", "final", "single"]);
  });
});
