import type { HandlerContext } from "../bot/handlers/context.ts";
import { makeReply, type Reply, type ReplyAction } from "../bot/reply.ts";
import type { Bot } from "../bot/types.ts";
import type { ChatAction } from "../core/ports.ts";
import type { Connection } from "../db/connections.ts";
import { ConnectionSites } from "../db/drive-items.ts";
import type { OneDriveSource } from "../memory/sources/onedrive/source.ts";
import type { ConnectionService } from "./service.ts";

const ADD = "sharepoint:add";
const REMOVE = "sharepoint:remove";
const sitesRe = /^(?:my\s+)?(?:sharepoint|onedrive)\s+(?:sites|libraries)\??$/i;

/**
 * SharePoint document libraries on a OneDrive connection, chosen in chat:
 * - `sharepoint sites` — the sites the person follows in SharePoint (`/me/followedSites`), each
 *   with a button to sync its document library or to stop syncing it (a reply only they see);
 * - the buttons add or remove the site on the person's connection and start a sync: a new library
 *   is listed in full through `/sites/{id}/drive/root/delta`; a removed one loses its documents.
 */
export function registerSharePointCommands(bot: Bot, service: ConnectionService): void {
  const sites = new ConnectionSites(service.store.db);
  bot.registerCommand({
    kind: "connections.sharepoint",
    match: (t) => (sitesRe.test(t.trim()) ? { kind: "connections.sharepoint", query: "" } : undefined),
    help: [
      "SharePoint: “sharepoint sites” — choose followed SharePoint libraries to search besides your OneDrive.",
    ],
    handle: (ctx) => listSites(service, sites, ctx),
  });
  bot.registerActionHandler({
    prefix: "sharepoint:",
    handle: (action) => press(service, sites, action),
  });
}

async function mine(
  service: ConnectionService,
  who: { tenantId: string; platform: string; userId: string },
): Promise<Connection | undefined> {
  const [c] = await service.store.list({
    tenantId: who.tenantId,
    provider: "microsoft",
    ownerPlatform: who.platform,
    ownerUserId: who.userId,
  });
  return c;
}

const say = (text: string): Reply =>
  makeReply({ intent: "connections.sharepoint", text, visibility: "ephemeral" });

/** Buttons to sync or stop syncing each followed site. */
function siteActions(followed: { id: string; name: string }[], chosen: Set<string>): ReplyAction[] {
  return followed.map((s) => ({
    id: chosen.has(s.id) ? REMOVE : ADD,
    label: `${chosen.has(s.id) ? "Stop syncing" : "Sync"} ${s.name}`.slice(0, 75),
    value: JSON.stringify({ id: s.id, name: s.name }),
  }));
}

/**
 * The SharePoint sites a new OneDrive connection could add, for its first-sync message: the
 * followed sites not synced yet, with a Sync button each; undefined when there are none.
 */
export async function sharePointOffer(
  source: OneDriveSource,
  connectionId: string,
  store: ConnectionSites,
): Promise<Pick<Reply, "text" | "actions"> | undefined> {
  const chosen = new Set((await store.list(connectionId)).map((s) => s.siteId));
  const open = (await source.followedSites()).filter((s) => !chosen.has(s.id));
  if (open.length === 0) return undefined;
  return {
    text: `You also follow ${open.length} SharePoint site${open.length === 1 ? "" : "s"} (${open
      .slice(0, 5)
      .map((s) => s.name)
      .join(
        ", ",
      )}${open.length > 5 ? ", …" : ""}): press Sync to search a site's documents too, or type “sharepoint sites” later.`,
    actions: siteActions(open.slice(0, 5), chosen),
  };
}

async function listSites(
  service: ConnectionService,
  store: ConnectionSites,
  ctx: HandlerContext,
): Promise<Reply> {
  const c = await mine(service, ctx.msg);
  if (!c) return say("Connect OneDrive first: type “connect onedrive”.");
  if (c.status !== "active")
    return say("Your OneDrive connection is broken: type “connect onedrive” to sign in again.");
  const provider = service.provider("microsoft")!;
  let followed: { id: string; name: string }[];
  try {
    const source = (await provider.createSource(c, service.ctx)) as OneDriveSource;
    followed = await source.followedSites();
  } catch (err) {
    return say(
      `I could not read your SharePoint sites (${(err as Error).message.slice(0, 120)}). Try again later.`,
    );
  }
  const chosen = new Set((await store.list(c.id)).map((s) => s.siteId));
  if (followed.length === 0) {
    return say(
      "You follow no SharePoint sites. Follow a site in SharePoint (the ☆ on its page), then type “sharepoint sites” again.",
    );
  }
  const lines = followed.map((s) => `${s.name} — ${chosen.has(s.id) ? "synced" : "not synced"}`);
  const actions = siteActions(followed, chosen);
  const head = "SharePoint sites you follow (their document libraries can be searched with your OneDrive):";
  return makeReply({
    intent: "connections.sharepoint",
    text: [head, ...lines.map((l) => `• ${l}`)].join("\n"),
    blocks: [
      { type: "text", text: head },
      { type: "list", items: lines },
    ],
    actions,
    visibility: "ephemeral",
  });
}

async function press(
  service: ConnectionService,
  store: ConnectionSites,
  action: ChatAction,
): Promise<Reply | undefined> {
  if (action.actionId !== ADD && action.actionId !== REMOVE) return undefined;
  let site: { id: string; name: string };
  try {
    site = JSON.parse(action.value) as { id: string; name: string };
    if (typeof site.id !== "string" || typeof site.name !== "string") throw new Error("bad value");
  } catch {
    return say("That button is not valid any more. Type “sharepoint sites” again.");
  }
  const c = await mine(service, action);
  if (!c) return say("Connect OneDrive first: type “connect onedrive”.");
  if (action.actionId === ADD) {
    await store.add(c.id, { siteId: site.id, name: site.name.slice(0, 200) });
    await service.enqueue(c, "manual");
    return say(`Syncing the SharePoint site ${site.name} now; I will search it with your OneDrive.`);
  }
  await store.remove(c.id, site.id);
  await service.enqueue(c, "manual");
  return say(`Stopped syncing ${site.name}: its documents are removed from my memory.`);
}
