/**
 * Why a file could not be turned into text. `reason` is a short, human sentence fit for an ingest
 * summary or a chat reply ("PDF is damaged: Invalid PDF structure", "unsupported file type .xyz",
 * "file is empty"); it never contains file contents beyond a parser's own short message.
 */
export class ExtractError extends Error {
  /** Short human explanation, identical to `message`. */
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "ExtractError";
    this.reason = reason;
  }
}

/**
 * Turns any thrown value from a parser into an ExtractError with the prefix `label`
 * (e.g. "PDF is damaged"), keeping only the first line of the parser's message (max 160 chars).
 */
export function toExtractError(err: unknown, label: string): ExtractError {
  if (err instanceof ExtractError) return err;
  const raw = err instanceof Error ? err.message : typeof err === "string" ? err : "";
  const firstLine = (raw.split("\n")[0] ?? "").trim().replace(/\s+/g, " ");
  const short = firstLine.length > 160 ? `${firstLine.slice(0, 157)}...` : firstLine;
  return new ExtractError(short ? `${label}: ${short}` : label, { cause: err });
}
