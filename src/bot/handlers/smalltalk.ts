import { makeReply, type Reply } from "../reply.ts";

const THANKS = /\b(?:thanks?|thx|ty|tyvm|cheers)\b|\bthank you\b/i;
const GREETING = /\b(?:hi|hello|hey|heya|hiya|yo|hola|howdy|greetings|morning|afternoon|evening|gm|sup)\b/i;
const TEST = /\b(?:test|tests|testing|tested|ping)\b/i;

const WHAT_I_DO =
  "I'm Atom, your team's assistant. Ask me a question and I'll answer from your connected documents, with sources — " +
  "for example “how much is the home office budget?”. I can also find documents (“find docs about parental leave”), " +
  "remember notes (“remember that …”), transcribe voice notes, and tell you what is indexed (“status”). " +
  "Type “help” for more.";

/**
 * The reply to small talk (greetings, thanks, tests, "who are you?", messages without a content
 * word): a short, friendly line and what Atom can do. No search, no citations.
 */
export function smallTalkReply(text: string): Reply {
  const opener = THANKS.test(text)
    ? "You're welcome!"
    : TEST.test(text)
      ? "I'm here and working."
      : GREETING.test(text)
        ? "Hello!"
        : "Hi!";
  const reply = `${opener} ${WHAT_I_DO}`;
  return makeReply({ intent: "smalltalk", text: reply, blocks: [{ type: "text", text: reply }] });
}
