/**
 * API keys pasted in chat (DESIGN.md, Secrets): a message that holds something shaped like an
 * OpenAI or Anthropic key (`sk-…`, `sk-proj-…`, `sk-ant-…`) has the key replaced by
 * {@link PASTED_KEY_MARK} before anything is stored (the inbound job row, thread turns, logs), and
 * Atom answers with a warning instead of processing the message.
 */

/** What replaces a pasted key in stored text. */
export const PASTED_KEY_MARK = "[pasted key removed]";

/** Key shapes: OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`) and Anthropic (`sk-ant-…`) secret keys. */
const KEY_SHAPE = /\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g;

/** Whether `text` holds a key shape or the mark left where one was removed. */
export function hasPastedKey(text: string): boolean {
  KEY_SHAPE.lastIndex = 0;
  return text.includes(PASTED_KEY_MARK) || KEY_SHAPE.test(text);
}

/** `text` with every key shape replaced by {@link PASTED_KEY_MARK}. */
export function redactPastedKeys(text: string): string {
  return text.replace(KEY_SHAPE, PASTED_KEY_MARK);
}

/**
 * Every string inside a JSON-like value with key shapes replaced (an inbound payload before it is
 * stored). Returns the same object when nothing was found.
 */
export function redactPastedKeysDeep<T>(value: T): { value: T; found: boolean } {
  const json = JSON.stringify(value);
  if (json === undefined) return { value, found: false };
  KEY_SHAPE.lastIndex = 0;
  if (!KEY_SHAPE.test(json)) return { value, found: false };
  KEY_SHAPE.lastIndex = 0;
  return { value: JSON.parse(json.replace(KEY_SHAPE, PASTED_KEY_MARK)) as T, found: true };
}
