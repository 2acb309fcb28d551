/**
 * The "what" half of the workflow grammar: what to do when the schedule fires (remind, digest of
 * new documents, keyword watch, summary of a channel's questions, search and post, post a text),
 * where to post it, under which condition, and the workflow's name.
 */
import type { Destination, Step } from "../definition.ts";

/** What the action parser found. */
export interface WhatResult {
  steps: Step[];
  /** A default name, e.g. "Reminder: review the sales dashboard". */
  name: string;
  /** A schedule to use when the request names none (keyword watches check hourly). */
  defaultSchedule?: string;
  notes: string[];
}

/** Where the results go: "here", "in #sales" (`<#C123|sales>` in Slack), "DM me". */
export function takeDestination(s: string): { text: string; destination: Destination } {
  const slackChannel =
    /\s*\b(?:in|to|into|on)\s+<#([A-Z0-9]+)(?:\|[^>]*)?>/i.exec(s) ?? /<#([A-Z0-9]+)(?:\|[^>]*)?>/i.exec(s);
  if (slackChannel)
    return {
      text: cutOut(s, slackChannel),
      destination: { to: "channel", channelId: slackChannel[1]!.toUpperCase() },
    };
  const hash =
    /\s*\b(?:in|to|into|on|for)\s+#([a-z0-9][a-z0-9_-]{0,79})\b/.exec(s) ??
    /#([a-z0-9][a-z0-9_-]{0,79})\b/.exec(s);
  if (hash) return { text: cutOut(s, hash), destination: { to: "channel", channelId: `#${hash[1]}` } };
  const dm =
    /\s*\b(?:by dm|in a dm|as a dm|via dm|dm me|in my dms?|privately|as a direct message|by direct message|to me privately)\b/.exec(
      s,
    );
  if (dm) return { text: cutOut(s, dm), destination: { to: "dm" } };
  const here =
    /\s*\b(?:here|in this (?:thread|channel|chat|conversation)|to this (?:thread|channel|chat|conversation))\b/.exec(
      s,
    );
  if (here) return { text: cutOut(s, here), destination: { to: "origin" } };
  return { text: s, destination: { to: "origin" } };
}

function cutOut(s: string, m: RegExpExecArray): string {
  return `${s.slice(0, m.index)} ${s.slice(m.index + m[0].length)}`.replace(/\s+/g, " ").trim();
}

/** Words before/after the action that carry nothing ("please", "and", trailing commas). */
function tidy(s: string): string {
  return s
    .replace(
      /^(?:(?:hey |hi )?atom[,:]?\s+)?(?:please |can you |could you |would you |i want you to |i'd like you to )*/,
      "",
    )
    .replace(/^(?:and|then|,|to)\s+/, "")
    .replace(/\s+(?:and|then|,|please)$/, "")
    .replace(/^[,;:\s]+|[,;:\s]+$/g, "")
    .trim();
}

/** Condition words: "only if there are new documents", "if nothing is found, say …". */
function takeCondition(s: string): { text: string; onNothing?: { say?: string; quiet?: boolean } } {
  const only =
    /\s*,?\s*\b(?:but )?only (?:if|when) (?:there (?:are|is)|it finds|the search finds|you find) (?:any |some )?(?:new |changed )?(?:documents?|docs?|files?|results?|anything(?: new)?|something(?: new)?|matches?)\b/.exec(
      s,
    );
  if (only) return { text: cutOut(s, only), onNothing: { quiet: true } };
  const nothing =
    /\s*,?\s*\b(?:and )?(?:if|when) (?:the search finds nothing|nothing is found|there (?:is|are) nothing(?: new)?|there are no (?:new )?(?:documents|docs|files|results)|you find nothing|nothing (?:new )?(?:turns up|comes up))\s*,?\s*(?:then )?(.*)$/.exec(
      s,
    );
  if (nothing) {
    const tail = nothing[1]!.trim();
    const quiet =
      /^(?:stay quiet|say nothing|do nothing|skip(?: it)?|don't post(?: anything)?|do not post(?: anything)?|stop|post nothing)?$/.test(
        tail,
      );
    const say = /^(?:say|post|tell (?:me|us)|write|send)\s+["“]?(.+?)["”]?$/.exec(tail)?.[1];
    return {
      text: s.slice(0, nothing.index).trim(),
      onNothing: quiet ? { quiet: true } : { say: say ?? "Nothing new this time." },
    };
  }
  return { text: s };
}

/** Source words: "drive docs" → kind hint `drive`, "onedrive" → `onedrive`, "handbook" … */
function takeSources(s: string): { text: string; sources?: string[] } {
  const m =
    /\b(?:from |in |on )?(google drive|gdrive|drive|onedrive|sharepoint|notes)\b ?(?=(?:documents?|docs?|files?)?)/.exec(
      s,
    );
  if (!m) return { text: s };
  const kind =
    m[1] === "google drive" || m[1] === "gdrive" ? "drive" : m[1] === "sharepoint" ? "onedrive" : m[1]!;
  return { text: cutOut(s, m as RegExpExecArray), sources: [`kind:${kind}`] };
}

const DOCS = "(?:documents?|docs?|files?|pages?)";
const NEW = "(?:new(?: (?:or|and|&) (?:changed|updated))?|changed|updated|recent|latest|fresh)";

const cap = (s: string) => (s ? `${s[0]!.toUpperCase()}${s.slice(1)}` : s);

/** Steps that search, then post the results — or say nothing / say so when nothing is found. */
function searchAndPost(
  search: Extract<Step, { type: "search" }>,
  header: string,
  destination: Destination,
  onNothing: { say?: string; quiet?: boolean } | undefined,
  summarize: boolean,
): Step[] {
  const found: Step[] = [
    ...(summarize ? ([{ type: "summarize", maxSentences: 5 }] as Step[]) : []),
    { type: "post", text: `${header}\n${summarize ? "{summary}\n\n" : ""}{results}`, destination },
  ];
  const nothing: Step[] = onNothing?.quiet
    ? [{ type: "stop", reason: "nothing found" }]
    : [{ type: "post", text: `${header}\n${onNothing?.say ?? "Nothing new this time."}`, destination }];
  // biome-ignore lint/suspicious/noThenProperty: the condition step's shape is {if, then, else}; a step is data, never awaited
  return [search, { type: "condition", if: { test: "found" }, then: found, else: nothing }];
}

/**
 * Parses the action of a normalised request (schedule words already removed). `original` is
 * the request as typed, used to keep the case of quoted text and reminders.
 * @returns undefined when the text names no action Atom can do.
 */
export function parseWhat(text: string, original: string): WhatResult | undefined {
  let s = tidy(text);
  const notes: string[] = [];
  const named = /\s*,?\s*\b(?:called|named)\s+["“]?([^"”]+?)["”]?(?=$|,|\s+(?:and|that|which|to|in)\b)/.exec(
    s,
  );
  const name = named ? keepCase(named[1]!.trim(), original, /(?:called|named)\s+["“]?$/i) : undefined;
  if (named) s = cutOut(s, named);
  const dest = takeDestination(s);
  s = tidy(dest.text);
  const cond = takeCondition(s);
  s = tidy(cond.text);
  const destination = dest.destination;

  // remind me / us / the team to X
  const remind =
    /^(?:set (?:up )?(?:a )?reminder|remind(?:er)?)(?: (?:me|us|everyone|the team|the channel|<@[a-z0-9]+>|@?here|@?channel))?(?: (?:to|about|that|of|:))? (.+)$/.exec(
      s,
    );
  if (remind && !/^(?:me|us|everyone|the team|the channel|to|about)$/.test(remind[1]!)) {
    const what = keepCase(remind[1]!.replace(/^to /, ""), original).replace(/[.!]+$/, "");
    return {
      steps: [{ type: "post", text: `⏰ Reminder: ${what}`, destination }],
      name: name ?? `Reminder: ${what}`.slice(0, 80),
      notes,
    };
  }

  // (post|send) a digest of new documents (about X) (from drive)
  const src = takeSources(s);
  s = tidy(src.text);
  const digest = new RegExp(
    String.raw`^(?:(?:post|send|share|give (?:me|us)|make|write|create)\s+)?(?:me |us )?(?:an? |the )?(?:(?:daily|weekly|hourly|short)\s+)?(?:(digest|list|summary|roundup|round-up|overview|report) of (?:the |all |any )?)?${NEW} ${DOCS}(?: (?:about|on|regarding|mentioning|matching|that mention|with|containing|for) (.+))?$`,
  ).exec(s);
  if (digest) {
    const topic = digest[2] ? keepCase(digest[2], original) : "";
    const summarize = digest[1] === "summary" || digest[1] === "overview";
    const header = topic
      ? `New or changed documents about “${topic}” — {date}`
      : "New or changed documents — {date}";
    return {
      steps: searchAndPost(
        { type: "search", query: topic, in: "documents", since: "last_run", limit: 10, sources: src.sources },
        header,
        destination,
        cond.onNothing,
        summarize,
      ),
      name: name ?? (topic ? `Digest: ${topic}` : "Digest of new documents"),
      notes,
    };
  }

  // watch for new documents about X / tell me when a new document mentions X
  const watch = new RegExp(
    `^(?:watch(?: out)? for|alert (?:me|us)(?: when| if| about)?|notify (?:me|us)(?: when| if| about)?|tell (?:me|us) (?:when|if)|let (?:me|us) know (?:when|if)|ping (?:me|us) (?:when|if))(?: an?| any)?(?: new)? ${DOCS}(?: (?:is |are )?(?:added |created |appears? |shows? up )?(?:about|on|mentioning|mentions|matching|matches|containing|contains|with|that mentions?))? (.+)$`,
  ).exec(s);
  if (watch) {
    const keyword = keepCase(watch[1]!.replace(/^["“]|["”]$/g, ""), original);
    return {
      steps: searchAndPost(
        {
          type: "search",
          query: keyword,
          in: "documents",
          since: "last_run",
          limit: 10,
          sources: src.sources,
        },
        `New documents matching “${keyword}” — {date}`,
        destination,
        cond.onNothing ?? { quiet: true },
        false,
      ),
      name: name ?? `Watch: ${keyword}`.slice(0, 80),
      defaultSchedule: "every hour",
      notes,
    };
  }

  // summarize the questions asked in this channel (this week)
  const questions =
    /^(?:post |send |give (?:me|us) |write )?(?:an? |the )?(?:(?:weekly|daily) )?(?:summar(?:ize|ise|y of)|recap(?: of)?|round-?up of|digest of|list(?: of)?) (?:the |all )?questions(?: (?:people |we |you )?(?:asked|asked you|were asked))?(?: (?:this|last|past) (week|day|month))?$/.exec(
      s,
    );
  if (questions) {
    const hours = questions[1] === "day" ? 24 : questions[1] === "month" ? 24 * 31 : 24 * 7;
    return {
      steps: [
        { type: "search", query: "", in: "questions", since: hours, limit: 50 },
        {
          type: "condition",
          if: { test: "found" },
          // biome-ignore lint/suspicious/noThenProperty: the condition step's shape is {if, then, else}
          then: [
            { type: "summarize", maxSentences: 8 },
            { type: "post", text: "Questions asked here since {since} ({count}):\n{summary}", destination },
          ],
          else: cond.onNothing?.quiet
            ? [{ type: "stop", reason: "no questions" }]
            : [{ type: "post", text: "No questions were asked here since {since}.", destination }],
        },
      ],
      name: name ?? "Summary of questions asked",
      notes,
    };
  }

  // search for X and post the results
  const search =
    /^(?:search|look|find|check)(?: (?:for|up))? (.+?)(?: and (?:post|share|send|list|show)(?: (?:the|all|what you find|results?|it|them|matches|here))*)?$/.exec(
      s,
    );
  if (search && !/^(?:docs?|documents?)$/.test(search[1]!)) {
    const q = keepCase(search[1]!.replace(/^(?:docs?|documents?|files?) (?:about|on|for) /, ""), original);
    return {
      steps: searchAndPost(
        { type: "search", query: q, in: "documents", limit: 5, sources: src.sources },
        `Search: “${q}” — {date}`,
        destination,
        cond.onNothing ?? { say: `Nothing found for “${q}”.` },
        false,
      ),
      name: name ?? `Search: ${q}`.slice(0, 80),
      notes,
    };
  }

  // post "text" / say text
  const post =
    /^(?:post|say|send|write|share|announce)(?: (?:a|the) message)?(?: saying)?[:,]? ["“]?(.+?)["”]?$/.exec(
      s,
    );
  if (post && post[1]!.split(" ").length >= 1) {
    const body = keepCase(post[1]!, original);
    return {
      steps: [{ type: "post", text: body, destination }],
      name: name ?? `Post: ${body}`.slice(0, 80),
      notes,
    };
  }
  return undefined;
}

/** The text as the person typed it (case kept) when it can be found in the original, else capitalised. */
export function keepCase(lower: string, original: string, after?: RegExp): string {
  const low = original.toLowerCase();
  for (let i = low.indexOf(lower); i >= 0; i = low.indexOf(lower, i + 1)) {
    // With `after`, only an occurrence preceded by it counts (the name after "called").
    if (!after || after.test(original.slice(0, i))) return original.slice(i, i + lower.length);
  }
  return cap(lower);
}
