import { makeReply, type Reply } from "../reply.ts";

/** The list of things Atom does, with examples; `extra` lines come from registered commands. */
export function helpReply(extra: readonly string[] = []): Reply {
  const items = [
    "Ask a question: “how much is the home office budget?” — I answer from your documents, with sources.",
    "Find documents: “find docs about parental leave” — a list of matching documents.",
    "Remember something: “remember that the Q3 offsite is in Lisbon” — I can cite it later.",
    "Status: “status” — what is indexed, per source, and when it was last synced.",
    "Voice notes: send one and I transcribe it, then treat it like a typed message.",
    ...extra,
  ];
  const text = ["Here is what I can do:", ...items.map((i) => `• ${i}`)].join("\n");
  return makeReply({
    intent: "help",
    text,
    blocks: [
      { type: "text", text: "Here is what I can do:" },
      { type: "list", items },
    ],
  });
}
