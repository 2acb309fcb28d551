import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, migrate, openPglite } from "../../src/db/index.ts";
import { RunInputs } from "../../src/workflows/inputs.ts";

describe("workflow source words select sources by kind", () => {
  let db: Db;
  beforeAll(async () => {
    db = await openPglite("memory://");
    await migrate(db);
    const add = (tenant: string, id: string, kind: string) =>
      db.query("INSERT INTO sources (tenant_id, source_id, kind, label) VALUES ($1, $2, $3, $4)", [
        tenant,
        id,
        kind,
        id,
      ]);
    await add("t1", "gdrive:c1", "gdrive");
    await add("t1", "onedrive:c2", "onedrive");
    await add("t1", "folder:handbook", "folder");
    await add("t2", "gdrive:c3", "gdrive");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("“Drive docs” means Google Drive only — not OneDrive, whose kind also contains “drive”", async () => {
    const inputs = new RunInputs(db);
    expect(await inputs.sourcesLike("t1", "drive")).toEqual(["gdrive:c1"]);
    expect(await inputs.sourcesLike("t1", "onedrive")).toEqual(["onedrive:c2"]);
    expect(await inputs.sourcesLike("t1", "notes")).toEqual([]);
  });

  it("another word matches source ids containing it, within the tenant", async () => {
    const inputs = new RunInputs(db);
    expect(await inputs.sourcesLike("t1", "handbook")).toEqual(["folder:handbook"]);
    expect(await inputs.sourcesLike("t2", "onedrive")).toEqual([]);
  });
});
