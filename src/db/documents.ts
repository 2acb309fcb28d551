import type { Db } from "./types.ts";

/**
 * The access lists of documents of one tenant (table `documents`), keyed `<source>\u0000<docId>`.
 * Documents that are not (or no longer) in memory are absent from the result.
 */
export async function documentAcls(
  db: Db,
  tenantId: string,
  refs: { source: string; docId: string }[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (refs.length === 0) return out;
  const r = await db.query<{ source_id: string; doc_id: string; acl: unknown }>(
    `SELECT source_id, doc_id, acl FROM documents
     WHERE tenant_id = $1 AND (source_id, doc_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
    [tenantId, refs.map((x) => x.source), refs.map((x) => x.docId)],
  );
  for (const row of r.rows) {
    const acl = typeof row.acl === "string" ? (JSON.parse(row.acl) as unknown) : row.acl;
    out.set(
      `${row.source_id}\u0000${row.doc_id}`,
      Array.isArray(acl) ? acl.map((p) => String(p).toLowerCase()) : [],
    );
  }
  return out;
}
