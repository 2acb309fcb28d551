/**
 * Registers the workflow commands and the Confirm/Cancel buttons on the bot (no edit of the
 * core's routing): creation from plain language, `workflows`, `workflow …` and templates.
 */
import type { Bot, Intent } from "../bot/types.ts";
import { normalize } from "./grammar/normalize.ts";
import { parseWhen } from "./grammar/when.ts";
import { changeReply, historyReply, listReply, showReply, templatesReply, whyReply } from "./manage.ts";
import { CANCEL_ACTION, CONFIRM_ACTION, notice } from "./plan.ts";
import type { WorkflowService } from "./service.ts";

const LIST =
  /^(?:(?:list|show)(?: me)?(?: (?:all|my|the))? workflows|workflows|my workflows|workflow list)\??$/i;
const TEMPLATES = /^(?:workflow templates|(?:list |show )?(?:workflow )?templates)\??$/i;
const MANAGE =
  /^workflows? (history|versions|rollback|roll back|revert|why|debug|run|pause|stop|resume|start|delete|remove|rename|edit|change|update|show)\b[\s:]*(.*)$/i;

/**
 * A schedule word first: "every weekday at 9 …", "tomorrow at 8 …", "in 20 minutes …", a date
 * ("on december 24 at 10 …", "on 2027-01-15 at 9 …", "on 3rd of march …", as parseWhen reads them).
 */
const TRIGGER_START =
  /^(?:every|each|daily|weekly|monthly|hourly|fortnightly|biweekly|in \d+ |in an? (?:minute|hour|day)|in half an hour|tomorrow|today|tonight|yesterday|on (?:mon|tue|wed|thu|fri|sat|sun|the \d|the (?:first|last)|\d{4}-\d{2}-\d{2}|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* \d|\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))|at \d|at (?:noon|midnight)|the (?:first|last|second|third|fourth) |(?:first|last) (?:mon|tue|wed|thu|fri|sat|sun|weekday|business|working|day)|whenever|every time|each time)/;
/** An action first: "post …", "tell me when …" — a workflow only with a schedule (or a watch). */
const ACTION_START =
  /^(?:post |send |share |summari[sz]e the questions|watch (?:out )?for |tell (?:me|us) when|let (?:me|us) know when|notify (?:me|us)|alert (?:me|us)|ping (?:me|us) when)/;
const WATCH_START =
  /^(?:watch (?:out )?for |tell (?:me|us) when|let (?:me|us) know when|notify (?:me|us)|alert (?:me|us)|ping (?:me|us) when)/;
/** An action word: without one, "every employee gets how many days off" stays a question. */
const ACTION_WORD =
  /\b(?:remind|reminder|post|send|share|digest|summari[sz]e|summary|watch|notify|tell (?:me|us)|let (?:me|us) know|alert|ping|search|template|announce)\b/;
const STRONG_START =
  /^(?:remind|reminder|set (?:up )?a reminder|schedule|create (?:a )?workflow|new workflow|(?:use|apply) the .+ template)/;

/** Strips a polite or addressing prefix ("please", "can you", "atom,", "create a workflow:"). */
function stripPrefix(s: string): string {
  return s
    .replace(/^(?:(?:hey |hi )?atom[,:]?\s+)/, "")
    .replace(
      /^(?:please |can you |could you |would you |will you |i want you to |i'd like you to |i would like you to )+/,
      "",
    )
    .replace(/^(?:create a workflow|new workflow|workflow|schedule)\s*:\s*/, "")
    .trim();
}

/** Whether a message asks to create a workflow (see README "Workflows" for what is understood). */
export function looksLikeCreate(text: string): boolean {
  const s = stripPrefix(normalize(text).text);
  if (/\?$/.test(s) && !/^(?:remind|post|send|schedule|set up|watch)/.test(s)) return false;
  if (STRONG_START.test(s)) return true;
  if (TRIGGER_START.test(s)) return ACTION_WORD.test(s);
  if (ACTION_START.test(s)) {
    // "share the travel policy" is a question for the memory; "share … every Monday" a workflow.
    if (WATCH_START.test(s) && /\b(?:documents?|docs?|files?)\b/.test(s)) return true;
    const when = parseWhen(s, { now: new Date(), timeZone: "UTC" });
    return when.ok || when.problem !== undefined;
  }
  return false;
}

/** Adds every workflow command and the plan's buttons to the bot. */
export function registerWorkflowCommands(bot: Bot, svc: WorkflowService): void {
  bot.registerCommand({
    kind: "workflow.list",
    match: (t): Intent | undefined => (LIST.test(t) ? { kind: "workflow.list", query: "" } : undefined),
    handle: (ctx) => listReply(svc, ctx.msg),
    help: [
      "Workflows: “workflows” lists them; “workflow history|why|run|pause|resume|delete|rename|rollback|edit <name>”.",
    ],
  });
  bot.registerCommand({
    kind: "workflow.templates",
    match: (t) => (TEMPLATES.test(t) ? { kind: "workflow.templates", query: "" } : undefined),
    handle: async () => templatesReply(),
    help: [
      "Workflow templates: “workflow templates” — daily digest, keyword watch, stand-up reminder, weekly questions summary.",
    ],
  });
  bot.registerCommand({
    kind: "workflow.manage",
    match(t) {
      const m = MANAGE.exec(t);
      return m
        ? { kind: "workflow.manage", query: m[2]!.trim(), args: { verb: m[1]!.toLowerCase() } }
        : undefined;
    },
    async handle(ctx) {
      const verb = canonicalVerb(ctx.intent.args?.verb ?? "");
      const rest = ctx.intent.query;
      if (verb === "templates") return templatesReply();
      const { name, arg } = splitNameArg(verb, rest);
      const found = await svc.find(ctx.msg.tenantId, name);
      if (!found.wf) return notice(found.problem ?? "Which workflow?");
      const wf = found.wf;
      if (verb === "history") return historyReply(svc, wf);
      if (verb === "why") return whyReply(svc, wf);
      if (verb === "show") return showReply(svc, wf);
      return changeReply(svc, ctx.msg, wf, verb, arg);
    },
  });
  bot.registerCommand({
    kind: "workflow.create",
    match: (t) => (looksLikeCreate(t) ? { kind: "workflow.create", query: t } : undefined),
    handle: (ctx) => svc.plan(ctx.msg, ctx.intent.query),
    help: [
      "Workflows from plain language: “every weekday at 9 post a digest of new documents here”, “remind me every Monday at 9am to review the sales dashboard” — I show the plan and run it after you press Confirm.",
    ],
  });
  bot.registerActionHandler({
    prefix: "workflow:",
    async handle(action) {
      if (action.actionId === CONFIRM_ACTION) return svc.settle(action, action.value, true);
      if (action.actionId === CANCEL_ACTION) return svc.settle(action, action.value, false);
      return undefined;
    },
  });
}

type Verb =
  | "history"
  | "why"
  | "show"
  | "templates"
  | "pause"
  | "resume"
  | "delete"
  | "rename"
  | "rollback"
  | "run"
  | "edit";

function canonicalVerb(v: string): Verb {
  const map: Record<string, Verb> = {
    versions: "history",
    "roll back": "rollback",
    revert: "rollback",
    debug: "why",
    stop: "pause",
    start: "resume",
    remove: "delete",
    change: "edit",
    update: "edit",
  };
  return (map[v] ?? v) as Verb;
}

/** Splits "<name> to <new name>", "<name> <version>", "<name> dry run", "<name>: <request>". */
function splitNameArg(verb: Verb, rest: string): { name: string; arg: string } {
  const r = rest.trim();
  if (verb === "rename") {
    const m = /^(.+?)\s+(?:to|as|->|→)\s+(.+)$/i.exec(r);
    return m ? { name: m[1]!, arg: m[2]! } : { name: r, arg: "" };
  }
  if (verb === "rollback") {
    const m = /^(.+?)\s+(?:to\s+)?(?:version\s+)?(v?\d+)$/i.exec(r);
    return m ? { name: m[1]!, arg: m[2]! } : { name: r, arg: "" };
  }
  if (verb === "run") {
    const m = /^(.+?)\s+(?:as a |as )?(dry[- ]?run|--dry-run|test|preview)$/i.exec(r);
    return m ? { name: m[1]!, arg: m[2]! } : { name: r, arg: "" };
  }
  if (verb === "edit") {
    const m = /^(?:"([^"]+)"|“([^”]+)”|([^:]+)):\s*(.+)$/.exec(r);
    return m ? { name: (m[1] ?? m[2] ?? m[3])!.trim(), arg: m[4]! } : { name: r, arg: "" };
  }
  return { name: r, arg: "" };
}
