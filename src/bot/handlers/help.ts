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

/**
 * The answer to a message that carries files but no text and no voice note: which files Atom reads
 * (voice notes) and how documents become searchable (a connected source), instead of the help card.
 * @param audioFormats the audio formats the voice pipeline opens, for the reply text.
 */
export function filesReply(audioFormats: string): Reply {
  const items = [
    `Voice notes: send a recording or an audio file (${audioFormats}) and I transcribe it, then answer it like a typed message.`,
    "Documents: I answer from connected sources, not from files sent in chat. Connect a source where the documents live (your admin can add a docs folder or a drive) and ask me about them.",
  ];
  const text = ["I don't read files sent in chat, except voice notes.", ...items.map((i) => `• ${i}`)].join(
    "\n",
  );
  return makeReply({
    intent: "files",
    text,
    blocks: [
      { type: "text", text: "I don't read files sent in chat, except voice notes." },
      { type: "list", items },
    ],
  });
}
