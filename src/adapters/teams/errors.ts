/**
 * How Bot Framework errors are read: the HTTP status of a connector error, whether a token
 * validation error means "not authenticated", and a short secret-free description for logs and
 * job errors.
 */
import { AuthenticationError } from "botframework-connector";

/** HTTP status of a connector or auth error (`RestError.statusCode`, `AuthenticationError`), if any. */
export function statusOf(err: unknown): number | undefined {
  const s =
    (err as { statusCode?: unknown; status?: unknown })?.statusCode ?? (err as { status?: unknown })?.status;
  return typeof s === "number" ? s : undefined;
}

/**
 * Whether an error from token validation means "this request is not authenticated" (401) rather
 * than "validation could not run" (e.g. the signing keys could not be fetched).
 */
export function isAuthRejection(err: unknown): boolean {
  if (err instanceof AuthenticationError) return statusOf(err) === undefined || statusOf(err) === 401;
  const name = (err as { name?: unknown })?.name;
  return name === "JsonWebTokenError" || name === "TokenExpiredError" || name === "NotBeforeError";
}

/**
 * A short description of an error for logs and job errors: `HTTP <status>: <message>`, at most
 * 300 characters, with bearer tokens, client secrets and JWT-looking strings removed.
 */
export function describeError(err: unknown): string {
  const status = statusOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  const clean = msg
    .replace(/Bearer\s+\S+/gi, "Bearer [redacted]")
    .replace(/(client_secret|password|assertion)=[^&\s]+/gi, "$1=[redacted]")
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, "[token]");
  return `${status ? `HTTP ${status}: ` : ""}${clean.split("\n")[0]!.slice(0, 300)}`;
}
