import type { Db } from "./types.ts";

/** One item of a drive's folder tree. */
export interface DriveItemRow {
  itemId: string;
  parentId?: string;
  isFolder: boolean;
}

/**
 * Repository of `drive_items`: the folder tree of one source (tenant + source id), kept from the
 * items its change feed reports, so a deleted folder's documents can be found (Graph reports only
 * the folder).
 */
export class DriveItemTree {
  constructor(
    private readonly db: Db,
    private readonly tenantId: string,
    private readonly sourceId: string,
  ) {}

  /** Records items (new or moved). */
  async put(rows: DriveItemRow[]): Promise<void> {
    // One row per item (a feed page may report an item twice: the last state wins).
    const items = [...new Map(rows.map((r) => [r.itemId, r])).values()];
    if (items.length === 0) return;
    await this.db.query(
      `INSERT INTO drive_items (tenant_id, source_id, item_id, parent_id, is_folder)
       SELECT $1, $2, d.item_id, d.parent_id, d.is_folder
       FROM unnest($3::text[], $4::text[], $5::boolean[]) AS d(item_id, parent_id, is_folder)
       ON CONFLICT (tenant_id, source_id, item_id) DO UPDATE SET parent_id = EXCLUDED.parent_id,
         is_folder = EXCLUDED.is_folder`,
      [
        this.tenantId,
        this.sourceId,
        items.map((i) => i.itemId),
        items.map((i) => i.parentId ?? null),
        items.map((i) => i.isFolder),
      ],
    );
  }

  /**
   * Removes items and everything below them.
   * @returns the ids of the removed items that were not folders (the documents to remove), and
   *   whether each given id was known.
   */
  async removeWithDescendants(ids: string[]): Promise<{ files: string[] }> {
    if (ids.length === 0) return { files: [] };
    return this.db.transaction(async (tx) => {
      const r = await tx.query<{ item_id: string; is_folder: boolean }>(
        `WITH RECURSIVE sub(item_id, is_folder) AS (
           SELECT item_id, is_folder FROM drive_items
             WHERE tenant_id = $1 AND source_id = $2 AND item_id = ANY($3::text[])
           UNION
           SELECT c.item_id, c.is_folder FROM drive_items c JOIN sub ON c.parent_id = sub.item_id
             WHERE c.tenant_id = $1 AND c.source_id = $2
         )
         SELECT item_id, is_folder FROM sub`,
        [this.tenantId, this.sourceId, ids],
      );
      const all = r.rows.map((x) => x.item_id);
      if (all.length > 0) {
        await tx.query(
          "DELETE FROM drive_items WHERE tenant_id = $1 AND source_id = $2 AND item_id = ANY($3::text[])",
          [this.tenantId, this.sourceId, all],
        );
      }
      return { files: r.rows.filter((x) => !x.is_folder).map((x) => x.item_id) };
    });
  }
}

/** A SharePoint site a connection follows. */
export interface ConnectionSite {
  siteId: string;
  name: string;
}

/** Repository of `connection_sites`: the SharePoint libraries a OneDrive connection syncs. */
export class ConnectionSites {
  constructor(private readonly db: Db) {}

  async list(connectionId: string): Promise<ConnectionSite[]> {
    const r = await this.db.query<{ site_id: string; name: string }>(
      "SELECT site_id, name FROM connection_sites WHERE connection_id = $1 ORDER BY added_at, site_id",
      [connectionId],
    );
    return r.rows.map((x) => ({ siteId: x.site_id, name: x.name }));
  }

  /** @returns false when the site was already there. */
  async add(connectionId: string, site: ConnectionSite): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO connection_sites (connection_id, site_id, name) VALUES ($1, $2, $3)
       ON CONFLICT (connection_id, site_id) DO NOTHING RETURNING site_id`,
      [connectionId, site.siteId, site.name],
    );
    return r.rows.length > 0;
  }

  /** @returns false when the site was not there. */
  async remove(connectionId: string, siteId: string): Promise<boolean> {
    const r = await this.db.query(
      "DELETE FROM connection_sites WHERE connection_id = $1 AND site_id = $2 RETURNING site_id",
      [connectionId, siteId],
    );
    return r.rows.length > 0;
  }
}
