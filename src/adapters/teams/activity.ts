/**
 * Checks on an inbound Teams activity that run at the door, before anything is stored: its nesting
 * depth, its shape (the fields Atom reads must have the JSON types of the Bot Framework Activity
 * schema) and where replies may go (`serviceUrl`; in local mode, without `MICROSOFT_APP_ID`, only
 * back to this machine).
 * Activity schema: https://github.com/microsoft/botframework-sdk/blob/main/specs/botframework-activity/botframework-activity.md
 */
import { BlockList, isIPv4 } from "node:net";
import { z } from "zod";

/** An optional string field (Bot Framework serialisers may write `null` for an absent value). */
const optString = z.string().nullish();

/** A channel account (`from`, `recipient`, members): `id` is required. */
const account = z.looseObject({
  id: z.string().min(1),
  name: optString,
  aadObjectId: optString,
});

/** An entity (`mention`, `clientInfo`, citations, …): only the fields Atom reads are typed. */
const entity = z.looseObject({
  type: optString,
  text: optString,
  mentioned: z.looseObject({ id: optString, name: optString }).nullish(),
});

/** An attachment (shared file, audio clip, card): only the fields Atom reads are typed. */
const attachment = z.looseObject({
  contentType: optString,
  contentUrl: optString,
  name: optString,
});

/** An http(s) URL the WHATWG parser accepts. */
const httpUrl = z
  .string()
  .min(1)
  .refine((s) => parseHttpUrl(s) !== undefined, { message: "must be an http(s) URL" });

/**
 * The inbound activity shape Atom accepts: `type`, `id`, `serviceUrl`, `conversation.id`,
 * `from.id` and `recipient.id` are required strings; `text` is a string and `entities`,
 * `attachments`, `membersAdded` and `membersRemoved` are arrays of objects when present. Other
 * fields pass through unchanged (Teams adds new ones over time).
 */
export const inboundActivitySchema = z.looseObject({
  type: z.string().min(1),
  id: z.string().min(1),
  serviceUrl: httpUrl,
  channelId: optString,
  conversation: z.looseObject({
    id: z.string().min(1),
    conversationType: optString,
    tenantId: optString,
    isGroup: z.boolean().nullish(),
  }),
  from: account,
  recipient: account,
  text: optString,
  textFormat: optString,
  locale: optString,
  timestamp: optString,
  localTimestamp: optString,
  replyToId: optString,
  name: optString,
  action: optString,
  entities: z.array(entity).nullish(),
  attachments: z.array(attachment).nullish(),
  membersAdded: z.array(account).nullish(),
  membersRemoved: z.array(account).nullish(),
  channelData: z
    .looseObject({
      tenant: z.looseObject({ id: optString }).nullish(),
      channel: z.looseObject({ id: optString }).nullish(),
    })
    .nullish(),
});

/**
 * Deepest nesting of objects and arrays Atom accepts in an activity. Real activities stay far below
 * (an Adaptive Card with nested containers is a few dozen levels); a body nested thousands of levels
 * deep would overflow the stack of every recursive step after the door (JSON.stringify, clones).
 */
export const MAX_ACTIVITY_DEPTH = 64;

/**
 * Whether a parsed JSON value nests objects/arrays deeper than `limit` levels (the value itself is
 * level 1). Iterative, so it cannot overflow the stack however deep the value is.
 */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Validates a parsed JSON body as an inbound activity.
 * @returns `{ ok: true }`, or `{ ok: false, error }` with a short message naming the first bad
 *   field and what was expected (never the field's value).
 */
export function checkActivityShape(body: unknown): { ok: true } | { ok: false; error: string } {
  const r = inboundActivitySchema.safeParse(body);
  if (r.success) return { ok: true };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "activity";
  const what = issue?.code === "invalid_type" ? `expected ${issue.expected}` : (issue?.message ?? "invalid");
  return { ok: false, error: `invalid activity: ${where}: ${what}`.slice(0, 200) };
}

/** Parses an http(s) URL; undefined for anything else. */
function parseHttpUrl(raw: string): URL | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

const loopbackBlock = new BlockList();
loopbackBlock.addSubnet("127.0.0.0", 8, "ipv4");
loopbackBlock.addAddress("::1", "ipv6");

/**
 * Whether an IP address is loopback: 127.0.0.0/8, `::1`, or an IPv4-mapped IPv6 address of
 * 127.0.0.0/8 (`::ffff:127.0.0.1`, `::ffff:7f00:1`). Square brackets (URL host form) are allowed.
 * Host names (other than these literals) are not addresses and return false.
 */
export function isLoopbackAddress(address: string): boolean {
  const a = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  if (isIPv4(a)) return loopbackBlock.check(a, "ipv4");
  // BlockList.check throws on text that is not an address of the family.
  try {
    return loopbackBlock.check(a, "ipv6");
  } catch {
    return false;
  }
}

/** The refusal for an IPv6 address literal in a serviceUrl. */
const IPV6_LITERAL =
  "serviceUrl: an IPv6 address literal is not supported (the Bot Connector client cannot reach it); use a host name, localhost or 127.0.0.1";
const NOT_LOOPBACK =
  "without MICROSOFT_APP_ID the activity's serviceUrl must be an http(s) URL on loopback (localhost, 127.0.0.0/8)";

/**
 * Decides where Atom may answer an activity, before anything is stored:
 * - authenticated (the JWT binds the serviceUrl): the URL as sent, unless its host is an IPv6
 *   address literal — the Bot Connector client would look `[::1]` up as a DNS name and reply
 *   somewhere else, so such an activity is refused instead;
 * - local mode (no app id, no JWT): only loopback, via {@link loopbackServiceUrl}.
 * @returns `{ ok: true, url }` with the URL replies go to, or `{ ok: false, error }` (a 400 reason
 *   that never repeats the URL, whose user-info part could hold a secret).
 */
export function checkServiceUrl(
  raw: string,
  mode: "authenticated" | "local",
): { ok: true; url: string } | { ok: false; error: string } {
  const url = parseHttpUrl(raw);
  if (!url) return { ok: false, error: "serviceUrl must be an http(s) URL" };
  const host = url.hostname.toLowerCase();
  if (mode === "authenticated") {
    if (host.startsWith("[")) return { ok: false, error: IPV6_LITERAL };
    return { ok: true, url: raw };
  }
  const local = loopbackServiceUrl(raw);
  if (local) return { ok: true, url: local };
  if (host === "[::1]") return { ok: false, error: IPV6_LITERAL };
  return { ok: false, error: NOT_LOOPBACK };
}

/**
 * In local mode Atom may only talk back to this machine: returns the canonical form of `raw`
 * (WHATWG `href`, so every later parser sees the host that was checked) when it is an http(s) URL
 * without credentials whose host is `localhost`, an address in 127.0.0.0/8 or an IPv4-mapped
 * loopback address (e.g. `[::ffff:7f00:1]`, rewritten to its dotted IPv4 form `127.0.0.1` — the
 * same address, in the form the Bot Connector client can reach); undefined otherwise
 * (`http://0.0.0.0/`, private or public addresses, other host names, and `[::1]`, which the
 * connector client cannot reach — see {@link checkServiceUrl}).
 */
export function loopbackServiceUrl(raw: string): string | undefined {
  const url = parseHttpUrl(raw);
  if (!url || url.username || url.password) return undefined;
  const host = url.hostname.toLowerCase();
  if (host !== "localhost" && !isLoopbackAddress(host)) return undefined;
  if (host.startsWith("[")) {
    // WHATWG URLs print IPv6 hosts compressed, with an IPv4-mapped tail in hex: [::ffff:7f00:1].
    const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
    if (!mapped) return undefined;
    const hi = Number.parseInt(mapped[1] ?? "", 16);
    const lo = Number.parseInt(mapped[2] ?? "", 16);
    url.hostname = [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return url.href;
}
