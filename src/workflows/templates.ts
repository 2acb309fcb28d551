/**
 * Ready-made workflows offered by `workflow templates` and used by name ("use the daily digest
 * template for #sales at 8"). Each one is a request in the same plain language the grammar
 * understands, so a template and a typed request make the same definition.
 */

/** One template. */
export interface WorkflowTemplate {
  /** Identifier stored on the definition, e.g. `daily-digest`. */
  id: string;
  /** Name people use ("daily digest"). */
  title: string;
  description: string;
  /** Other names it is found by. */
  aliases: string[];
  /**
   * The request the template stands for. `{when}` is replaced by the schedule the person gave (or
   * `defaultWhen`), `{topic}` by a keyword ("for pricing").
   */
  request: string;
  defaultWhen: string;
  /** The template needs a keyword (`{topic}`). */
  needsTopic?: boolean;
  /** How to use it, shown in `workflow templates`. */
  example: string;
}

export const TEMPLATES: WorkflowTemplate[] = [
  {
    id: "daily-digest",
    title: "daily digest",
    description: "Every morning, a list of the documents that are new or changed since the day before.",
    aliases: ["digest", "document digest", "daily document digest", "new documents digest"],
    request: "{when} post a digest of new documents",
    defaultWhen: "every weekday at 9",
    example: "use the daily digest template for #sales at 8",
  },
  {
    id: "keyword-watch",
    title: "keyword watch",
    description: "Posts when a new document mentions a keyword (checked every hour).",
    aliases: ["watch", "keyword alert", "document watch"],
    request: "{when} tell me when a new document mentions {topic}",
    defaultWhen: "every hour",
    needsTopic: true,
    example: "use the keyword watch template for pricing",
  },
  {
    id: "standup-reminder",
    title: "stand-up reminder",
    description: "A reminder to post yesterday / today / blockers, every weekday.",
    aliases: ["standup reminder", "standup", "stand-up", "daily standup", "daily stand-up"],
    request:
      "{when} remind us to post the stand-up: what you did yesterday, what you do today, anything blocking",
    defaultWhen: "every weekday at 9:30",
    example: "use the stand-up reminder template at 9:45",
  },
  {
    id: "weekly-questions",
    title: "weekly questions summary",
    description:
      "Every Friday afternoon, a summary of the questions people asked Atom in the channel that week.",
    aliases: [
      "weekly summary",
      "questions summary",
      "weekly question summary",
      "weekly summary of questions",
    ],
    request: "{when} summarize the questions asked this week",
    defaultWhen: "every friday at 16:00",
    example: "use the weekly questions summary template for #support",
  },
];

/** The template a phrase names ("the daily digest", "standup"), or undefined. */
export function findTemplate(name: string): WorkflowTemplate | undefined {
  const key = name
    .toLowerCase()
    .replace(/^(?:the|a|an)\s+/, "")
    .replace(/\s+template$/, "")
    .trim();
  return TEMPLATES.find((t) => t.title === key || t.id === key || t.aliases.includes(key));
}

/**
 * Expands "use the <template> template [for <topic or #channel>] [<schedule>] [<where>]" into the
 * request it stands for.
 * @returns undefined when the text is not a template request; `{problem}` when the template is
 *   unknown or needs a keyword that is missing.
 */
export function expandTemplate(
  text: string,
  hasSchedule: (s: string) => boolean,
): { request: string; template: WorkflowTemplate } | { problem: string } | undefined {
  const m = /^(?:please )?(?:use|apply|start|set up|create)(?: the| a)? (.+?) template\b(.*)$/.exec(text);
  if (!m) return undefined;
  const template = findTemplate(m[1]!);
  if (!template) return { problem: `I don't have a template called “${m[1]}”` };
  let rest = m[2]!.trim();
  let topic = "";
  if (template.needsTopic) {
    const t =
      /^(?:for|on|about|with(?: the)? keyword)\s+["“]?([^"”#<]+?)["”]?(?=$|\s+(?:in|to|every|each|at|on|daily|weekly|hourly)\b|\s*<#|\s*#)/.exec(
        rest,
      );
    if (!t) return { problem: `the ${template.title} template needs a keyword, e.g. “${template.example}”` };
    topic = t[1]!.trim();
    rest = rest.slice(t[0].length).trim();
  }
  // "for #sales" means "in #sales".
  rest = rest.replace(/^for\s+(?=<#|#)/, "in ");
  // A time alone ("at 8") keeps the template's days: "every weekday at 9" → "every weekday" + "at 8".
  const hasTime = /(?:^|\s)(?:at|@)\s+(?:\d|noon|midday|midnight)/.test(rest);
  const when = hasSchedule(rest)
    ? ""
    : hasTime
      ? template.defaultWhen.replace(/ at .*$/, "")
      : template.defaultWhen;
  const request = `${template.request.replace("{when}", when).replace("{topic}", topic)} ${rest}`
    .replace(/\s+/g, " ")
    .trim();
  return { request, template };
}
