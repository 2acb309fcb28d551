/**
 * Search filters typed in a question or a `find docs` request:
 * - `in:drive` (Google Drive), `in:folder` (local folders), `in:notes`, and any kind registered in
 *   {@link SOURCE_FILTERS} (OneDrive adds `in:onedrive`) — several `in:` filters add up;
 * - `since:7d` (days), `since:12h` (hours), `since:2w` (weeks): only documents modified since then.
 * The filters are removed from the text that is searched.
 */

/** `in:<name>` → the source kinds it selects. Features add their own names here. */
export const SOURCE_FILTERS: Record<string, string[]> = {
  drive: ["gdrive"],
  gdrive: ["gdrive"],
  google: ["gdrive"],
  folder: ["folder"],
  folders: ["folder"],
  local: ["folder"],
  notes: ["notes"],
  onedrive: ["onedrive"],
  sharepoint: ["onedrive"],
};

/** A question with its filters taken out. */
export interface ParsedFilters {
  /** The text without the filters. */
  text: string;
  /** Source kinds to search, when `in:` filters were given. */
  kinds?: string[];
  /** Earliest modification time, ms since epoch, when `since:` was given. */
  since?: number;
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Takes `in:` and `since:` filters out of `text` (case-insensitive). Unknown filters stay as text. */
export function parseFilters(text: string, now = Date.now()): ParsedFilters {
  const kinds = new Set<string>();
  let since: number | undefined;
  const rest = text.replace(/(^|\s)(in|since):(\S+)/gi, (all, lead: string, key: string, value: string) => {
    const v = value.toLowerCase().replace(/[?.!,;]+$/, "");
    if (key.toLowerCase() === "in") {
      const k = SOURCE_FILTERS[v];
      if (!k) return all;
      for (const x of k) kinds.add(x);
      return lead;
    }
    const m = /^(\d{1,4})([hdw])?$/.exec(v);
    if (!m) return all;
    const ms = Number(m[1]) * UNIT_MS[m[2] ?? "d"]!;
    since = Math.min(since ?? Number.POSITIVE_INFINITY, now - ms);
    return lead;
  });
  return {
    text: rest.replace(/\s+/g, " ").trim(),
    ...(kinds.size > 0 ? { kinds: [...kinds] } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}
