/**
 * Checks on an inbound Teams activity that run before any turn: its shape (the fields Atom reads
 * must have the JSON types of the Bot Framework Activity schema) and, in local mode (no
 * `MICROSOFT_APP_ID`), that its `serviceUrl` points back at this machine.
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

/**
 * In local mode Atom may only talk back to this machine: returns the canonical form of `raw`
 * (WHATWG `href`, so every later parser sees the host that was checked) when it is an http(s) URL
 * without credentials whose host is `localhost`, an address in 127.0.0.0/8, `[::1]` or an
 * IPv4-mapped loopback address (e.g. `[::ffff:7f00:1]`); undefined otherwise
 * (`http://0.0.0.0/`, private or public addresses, other host names).
 * The Bot Connector client resolves a bracketed host as a DNS name, so an IPv4-mapped host is
 * rewritten to its dotted IPv4 form (`127.0.0.1`) and `[::1]` to `localhost`.
 */
export function loopbackServiceUrl(raw: string): string | undefined {
  const url = parseHttpUrl(raw);
  if (!url || url.username || url.password) return undefined;
  const host = url.hostname.toLowerCase();
  if (host !== "localhost" && !isLoopbackAddress(host)) return undefined;
  if (host.startsWith("[")) {
    // WHATWG URLs print IPv6 hosts compressed, with an IPv4-mapped tail in hex: [::ffff:7f00:1].
    const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
    if (mapped) {
      const hi = Number.parseInt(mapped[1] ?? "", 16);
      const lo = Number.parseInt(mapped[2] ?? "", 16);
      url.hostname = [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
    } else if (host === "[::1]") {
      url.hostname = "localhost";
    } else {
      return undefined;
    }
  }
  return url.href;
}
