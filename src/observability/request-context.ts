import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

const store = new AsyncLocalStorage<{ requestId: string }>();

/** A request id from an incoming `X-Request-Id` when it is safe to log (≤ 64 of `[A-Za-z0-9._:-]`), else a new UUID. */
export function newRequestId(incoming?: string | null): string {
  return incoming && /^[A-Za-z0-9._:-]{1,64}$/.test(incoming) ? incoming : randomUUID();
}

/**
 * Runs `fn` with `requestId` as the current request id: every log line written inside it (also
 * after awaits) carries `reqId`, and work it queues records the id so the worker that handles it
 * logs the same id (webhook → job → reply).
 */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return store.run({ requestId }, fn);
}

/** The request id of the current webhook or job, if any. */
export function currentRequestId(): string | undefined {
  return store.getStore()?.requestId;
}
