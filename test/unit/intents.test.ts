import { describe, expect, it } from "vitest";
import { classify } from "../../src/bot/intents.ts";

describe("classify", () => {
  it("recognises help", () => {
    for (const t of [
      "help",
      "HELP",
      "  help  ",
      "?",
      "commands",
      "what can you do?",
      "how do I use Atom?",
      "",
    ]) {
      expect(classify(t)).toEqual({ kind: "help", query: "" });
    }
  });

  it("recognises status", () => {
    for (const t of [
      "status",
      "Status",
      "what's indexed?",
      "what is connected",
      "sources",
      "what’s indexed?",
    ]) {
      expect(classify(t)).toEqual({ kind: "status", query: "" });
    }
  });

  it("recognises search requests and keeps only the topic", () => {
    expect(classify("find docs about parental leave")).toEqual({ kind: "search", query: "parental leave" });
    expect(classify("Find documents on travel expenses?")).toEqual({
      kind: "search",
      query: "travel expenses",
    });
    expect(classify("search for files mentioning SOC 2")).toEqual({ kind: "search", query: "SOC 2" });
    expect(classify("please show me all pages regarding   on-call")).toEqual({
      kind: "search",
      query: "on-call",
    });
    expect(classify("look up notes with Lisbon")).toEqual({ kind: "search", query: "Lisbon" });
  });

  it("recognises remember and keeps the note text as typed", () => {
    expect(classify("remember that the Q3 offsite is in Lisbon")).toEqual({
      kind: "remember",
      query: "the Q3 offsite is in Lisbon",
    });
    expect(classify("Please remember: wifi password rotates monthly")).toEqual({
      kind: "remember",
      query: "wifi password rotates monthly",
    });
    expect(classify("remember\nthat line one\nline two").kind).toBe("remember");
  });

  it("treats everything else as a question", () => {
    expect(classify("how much is the home office budget?")).toEqual({
      kind: "ask",
      query: "how much is the home office budget?",
    });
    // Command words without a subject are questions, not empty commands.
    expect(classify("find docs").kind).toBe("ask");
    expect(classify("remember that").kind).toBe("ask");
    expect(classify("do you remember the offsite?").kind).toBe("ask");
    expect(classify("help me with expenses").kind).toBe("ask");
    expect(classify("what is the status of the Q3 roadmap?").kind).toBe("ask");
    expect(classify("  where   is\n the office? ")).toEqual({ kind: "ask", query: "where is the office?" });
  });
});

describe("small talk", () => {
  it("is not a search: greetings, thanks, tests, reactions, questions about Atom", () => {
    for (const t of [
      "cool!!",
      "test",
      "testing",
      "DM me",
      "Who are you?",
      "hello from team 2",
      "Hello World",
      "thanks!",
      "thank you so much",
      "hey there",
      "good morning everyone",
      "are you a bot?",
      "what is it?",
      "😀",
    ]) {
      expect(classify(t).kind, t).toBe("smalltalk");
    }
  });

  it("leaves questions with a content word to search", () => {
    for (const t of [
      "how do we do testing?",
      "test environment credentials",
      "hello, how much is the home office budget?",
      "who approves team trips?",
      "thanks — and what about parental leave?",
    ]) {
      expect(classify(t).kind, t).toBe("ask");
    }
  });
});
