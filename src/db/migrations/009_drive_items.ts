import type { Migration } from "../migrate.ts";

/**
 * The folder tree of change-feed sources whose feed reports a deleted folder without its children
 * (Microsoft Graph delta on OneDrive for Business and SharePoint): each item seen with its parent,
 * so a folder delete removes every document below it. Rows belong to a source of a tenant and go
 * with it (disconnect).
 * `connection_sites`: the SharePoint sites whose document library a OneDrive connection also syncs
 * (chosen by its owner in chat).
 */
export const m009DriveItems: Migration = {
  id: 9,
  name: "drive_items",
  sql: `
CREATE TABLE drive_items (
  tenant_id text NOT NULL,
  source_id text NOT NULL,
  item_id text NOT NULL,
  parent_id text,
  is_folder boolean NOT NULL DEFAULT false,
  PRIMARY KEY (tenant_id, source_id, item_id)
);
CREATE INDEX drive_items_parent ON drive_items (tenant_id, source_id, parent_id);

CREATE TABLE connection_sites (
  connection_id text NOT NULL,
  site_id text NOT NULL,
  name text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection_id, site_id)
);
`,
};
