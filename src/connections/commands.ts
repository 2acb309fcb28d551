import type { HandlerContext } from "../bot/handlers/context.ts";
import { makeReply, type Reply } from "../bot/reply.ts";
import type { Bot, Intent } from "../bot/types.ts";
import type { ChatMessage } from "../core/ports.ts";
import type { Connection } from "../db/connections.ts";
import type { ConnectionService } from "./service.ts";
import { type ConnectionProvider, sourceIdOf } from "./types.ts";

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Registers the chat commands of connections on the bot (no edit of the core's routing):
 * - `connect drive` — a private sign-in link (ephemeral in a channel, or in the DM);
 * - `disconnect drive` — removes the asker's connection and every chunk it brought;
 * - `sync` — syncs the asker's connections now;
 * - `sources` — connections with documents, last sync, errors and skipped files (details of
 *   skipped files only for the asker's own connections, in a reply only they see).
 * Plus lines in `status`.
 */
export function registerConnectionCommands(bot: Bot, service: ConnectionService): void {
  const providers = service.providers;
  const words = providers
    .flatMap((p) => p.words.map((w) => ({ w, p })))
    .sort((a, b) => b.w.length - a.w.length);
  const wordRe = words.map((x) => escapeRe(x.w).replace(/ /g, "\\s*")).join("|");
  const providerOf = (word: string): ConnectionProvider | undefined =>
    words.find((x) => new RegExp(`^${escapeRe(x.w).replace(/ /g, "\\s*")}$`, "i").test(word))?.p;
  const connectRe = new RegExp(
    `^(?:please\\s+)?(connect|disconnect)\\s+(?:my\\s+|to\\s+)?(${wordRe})[.!]?$`,
    "i",
  );
  const syncRe =
    /^(?:please\s+)?(?:re)?sync(?:\s+(?:my\s+)?(?:sources|drives?|google\s*drive|one\s*drive|sharepoint|everything|all))?(?:\s+now)?[.!]?$/i;
  const sourcesRe =
    /^(?:sources|connections|my (?:sources|connections)|list (?:my )?(?:sources|connections))\??$/i;

  const match =
    (kind: "connect" | "disconnect") =>
    (text: string): Intent | undefined => {
      const m = connectRe.exec(text);
      if (!m || m[1]!.toLowerCase() !== kind) return undefined;
      const p = providerOf(m[2]!);
      return p ? { kind: `connections.${kind}`, query: "", args: { provider: p.id } } : undefined;
    };

  bot.registerCommand({
    kind: "connections.connect",
    match: match("connect"),
    help: providers.map(
      (p) => `Connect ${p.label}: “connect ${p.word}” — I send you a private sign-in link.`,
    ),
    handle: (ctx) => connect(service, ctx),
  });
  bot.registerCommand({
    kind: "connections.disconnect",
    match: match("disconnect"),
    help: providers.map(
      (p) => `Disconnect ${p.label}: “disconnect ${p.word}” — removes it and its documents from my memory.`,
    ),
    handle: (ctx) => disconnect(service, ctx),
  });
  bot.registerCommand({
    kind: "connections.sync",
    match: (t) => (syncRe.test(t) ? { kind: "connections.sync", query: "" } : undefined),
    help: ["Sync now: “sync” — re-reads your connected sources."],
    handle: (ctx) => syncNow(service, ctx),
  });
  bot.registerCommand({
    kind: "connections.sources",
    match: (t) => (sourcesRe.test(t) ? { kind: "connections.sources", query: "" } : undefined),
    help: ["Sources: “sources” — what is connected, how many documents, last sync, skipped files."],
    handle: (ctx) => sourcesReply(service, ctx),
  });
  bot.addStatusContributor(async (tenantId, asker) => {
    const list = await service.store.list({ tenantId });
    const lines: string[] = [];
    for (const c of list) lines.push(...(await describe(service, c, asker)));
    return lines;
  });
}

const isPrivate = (msg: ChatMessage) => msg.isDirect || msg.visibility === "ephemeral";
const isOwner = (c: Connection, msg: ChatMessage) =>
  c.ownerPlatform === msg.platform && c.ownerUserId === msg.userId;

async function connect(service: ConnectionService, ctx: HandlerContext): Promise<Reply> {
  const provider = service.provider(ctx.intent.args?.provider ?? "")!;
  const missing = provider.missingSettings();
  if (missing) {
    return makeReply({
      intent: "connections.connect",
      text: `${provider.label} is not set up on this Atom yet: an admin needs to set ${missing} (see the README, “Connect ${provider.label}”).`,
      visibility: "ephemeral",
    });
  }
  const { msg } = ctx;
  const url = await service.signInLink(provider, {
    tenantId: msg.tenantId,
    platform: msg.platform,
    userId: msg.userId,
    userEmail: msg.userEmail,
    userIsAdmin: msg.userIsAdmin,
  });
  const note =
    "The link is only for you, works once, for 10 minutes. I read your files (read-only) and answer only people who may open them.";
  const linkReply = makeReply({
    intent: "connections.connect",
    text: `Connect your ${provider.label}: ${url}\n${note}`,
    blocks: [
      { type: "text", text: `Connect your ${provider.label}: ${url}` },
      { type: "text", text: note },
    ],
    visibility: "ephemeral",
  });
  if (isPrivate(msg)) return linkReply;
  // Asked in a channel: the link goes to the asker's DM; only if that fails, as an ephemeral reply.
  if (await service.sendDirect(msg.platform, msg.tenantId, msg.userId, linkReply)) {
    return makeReply({
      intent: "connections.connect",
      text: `I sent you a sign-in link for ${provider.label} in a direct message.`,
    });
  }
  return linkReply;
}

async function disconnect(service: ConnectionService, ctx: HandlerContext): Promise<Reply> {
  const provider = service.provider(ctx.intent.args?.provider ?? "")!;
  const { msg } = ctx;
  const [mine] = await service.store.list({
    tenantId: msg.tenantId,
    provider: provider.id,
    ownerPlatform: msg.platform,
    ownerUserId: msg.userId,
  });
  if (!mine) {
    return makeReply({
      intent: "connections.disconnect",
      text: `You have no ${provider.label} connected.`,
      visibility: "ephemeral",
    });
  }
  const docs = await service.disconnect(mine, { userId: msg.userId, platform: msg.platform });
  return makeReply({
    intent: "connections.disconnect",
    text: `Disconnected ${provider.label} (${mine.accountEmail ?? "your account"}): its ${docs} document${docs === 1 ? " is" : "s are"} removed from my memory.`,
    visibility: "ephemeral",
  });
}

async function syncNow(service: ConnectionService, ctx: HandlerContext): Promise<Reply> {
  const { msg } = ctx;
  const mine = (
    await service.store.list({ tenantId: msg.tenantId, ownerPlatform: msg.platform, ownerUserId: msg.userId })
  ).filter((c) => c.status === "active");
  if (mine.length === 0) {
    const hint = service.providers.map((p) => `“connect ${p.word}”`).join(" or ");
    return makeReply({
      intent: "connections.sync",
      text: `You have no working connection to sync. Type ${hint} first.`,
    });
  }
  for (const c of mine) await service.enqueue(c, "manual");
  const names = mine
    .map((c) => `${service.provider(c.provider)?.label ?? c.provider} (${c.accountEmail ?? "?"})`)
    .join(", ");
  return makeReply({
    intent: "connections.sync",
    text: `Syncing ${names} now. Type “sources” to see how it went.`,
  });
}

async function sourcesReply(service: ConnectionService, ctx: HandlerContext): Promise<Reply> {
  const { msg } = ctx;
  const items: string[] = [];
  for (const s of await ctx.memory.status(msg.tenantId)) {
    if (service.providers.some((p) => p.sourceKind === s.kind)) continue;
    items.push(
      `${s.label} (${s.kind}): ${s.documents} documents; last sync ${when(s.lastSyncAt)}${s.lastError ? ` — ${s.lastError}` : ""}`,
    );
  }
  for (const c of await service.store.list({ tenantId: msg.tenantId }))
    items.push(...(await describe(service, c, msg)));
  const head =
    items.length > 0 ? "Sources:" : "No sources yet. Type “connect drive” to add your Google Drive.";
  return makeReply({
    intent: "connections.sources",
    text: [head, ...items.map((i) => `• ${i}`)].join("\n"),
    blocks:
      items.length > 0
        ? [
            { type: "text", text: head },
            { type: "list", items },
          ]
        : [{ type: "text", text: head }],
  });
}

/** Status lines of one connection; skipped files are named only to their owner in private. */
async function describe(service: ConnectionService, c: Connection, asker?: ChatMessage): Promise<string[]> {
  const p = service.provider(c.provider);
  const label = p?.label ?? c.provider;
  const sourceId = sourceIdOf(p?.sourceKind ?? c.provider, c.id);
  const own = asker ? isOwner(c, asker) : false;
  const skips = await service.store.skips(c.tenantId, sourceId, own && asker && isPrivate(asker) ? 10 : 0);
  const state =
    c.status === "broken"
      ? `broken (${c.brokenReason ?? "access refused"}) — ${own ? "type" : "its owner can type"} “connect ${p?.word ?? c.provider}” to fix it`
      : c.lastSyncStatus === "failed"
        ? `last sync failed: ${c.lastError ?? "unknown error"}`
        : c.lastSyncAt
          ? "ok"
          : "first sync in progress";
  const lines = [
    `${label} — ${c.accountEmail ?? "unknown account"}${own ? " (yours)" : ""}: ${c.documents} documents; last sync ${when(c.lastSyncAt)}; ${state}${skips.total > 0 ? `; ${skips.total} file${skips.total === 1 ? "" : "s"} skipped` : ""}`,
  ];
  for (const f of skips.files) lines.push(`  skipped: ${f.name} — ${f.reason}`);
  if (own && asker && isPrivate(asker)) {
    for (const n of c.notes.slice(0, 10)) lines.push(`  note: ${n.path} — ${n.reason}`);
  }
  if (skips.files.length > 0 && skips.total > skips.files.length)
    lines.push(`  …and ${skips.total - skips.files.length} more`);
  return lines;
}

function when(d: Date | null): string {
  return d ? `${d.toISOString().replace("T", " ").slice(0, 16)} UTC` : "never";
}
