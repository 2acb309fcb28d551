/**
 * `atom keys rotate`: re-seals every secret stored under the master key (security/crypto.ts) with
 * the current `ATOM_ENCRYPTION_KEY`, in one transaction — either every value that needs it is
 * re-sealed, or (one value cannot be opened with any known key) nothing changes.
 *
 * What is sealed, and with which additional authenticated data (each kind must keep its own, or the
 * owner of the value could not open it any more):
 * - AI keys (`ai_keys.key_sealed`, {@link aiKeyContext}), workspace and personal;
 * - connection tokens (`connections.tokens_sealed`, {@link tokenContext}): Google Drive OAuth
 *   tokens, and for Microsoft the serialized MSAL token cache (it holds the refresh token);
 * - Slack installation tokens (`slack_installations.bot_token_sealed` / `refresh_token_sealed`,
 *   {@link slackTokenContext});
 * - PKCE verifiers of sign-ins under way (`oauth_states.data.verifier`, {@link pkceSealContext}),
 *   so a sign-in started just before the rotation still completes.
 * Signed links and admin-session cookies are HMACs derived from the master key, not sealed values:
 * they stop working after the key changes (they live at most 10 minutes / a session).
 */
import { slackTokenContext } from "../adapters/slack/credentials.ts";
import { aiKeyContext } from "../ai/vault.ts";
import { pkceSealContext } from "../connections/oauth-routes.ts";
import { tokenContext } from "../connections/tokens.ts";
import type { Db, Queryable } from "../db/types.ts";
import type { Sealer } from "../security/crypto.ts";

/** Counts for one kind of sealed secret. */
export interface RotationCount {
  /** Human name of the kind, e.g. "connection tokens (microsoft)". */
  kind: string;
  /** Values re-sealed under the current master key. */
  resealed: number;
  /** Values already sealed under the current master key. */
  current: number;
  /** Values that no known key opens (their kind is named; the values never are). */
  unreadable: number;
}

/** The outcome of a rotation: per kind, and whether it was written. */
export interface RotationResult {
  counts: RotationCount[];
  /** False when some value was unreadable: the transaction was rolled back, nothing changed. */
  committed: boolean;
}

/** One sealed value found in the database, and how to write its replacement. */
interface SealedValue {
  kind: string;
  sealed: string;
  context: string;
  /** Writes the re-sealed value only if the row still holds the old one; true when it did. */
  write(tx: Queryable, sealed: string): Promise<boolean>;
}

/** Reads every sealed value, locking the rows for the transaction. */
async function sealedValues(tx: Queryable): Promise<SealedValue[]> {
  const out: SealedValue[] = [];
  const ai = await tx.query<{ tenant_id: string; owner: string; provider: string; key_sealed: string }>(
    `SELECT tenant_id, owner, provider, key_sealed FROM ai_keys WHERE key_sealed IS NOT NULL
     ORDER BY tenant_id, owner, provider FOR UPDATE`,
  );
  for (const r of ai.rows) {
    out.push({
      kind: r.owner === "" ? "AI keys (workspace)" : "AI keys (personal)",
      sealed: r.key_sealed,
      context: aiKeyContext(r.tenant_id, r.owner, r.provider),
      write: async (q, sealed) =>
        (
          await q.query(
            `UPDATE ai_keys SET key_sealed = $5
             WHERE tenant_id = $1 AND owner = $2 AND provider = $3 AND key_sealed = $4`,
            [r.tenant_id, r.owner, r.provider, r.key_sealed, sealed],
          )
        ).rowCount > 0,
    });
  }
  const conns = await tx.query<{ id: string; provider: string; tokens_sealed: string }>(
    "SELECT id, provider, tokens_sealed FROM connections ORDER BY id FOR UPDATE",
  );
  for (const r of conns.rows) {
    out.push({
      kind:
        r.provider === "microsoft"
          ? "connection tokens (microsoft, MSAL cache)"
          : `connection tokens (${r.provider})`,
      sealed: r.tokens_sealed,
      context: tokenContext(r.id),
      // A new token version: a process that read the old value re-reads before refreshing.
      write: async (q, sealed) =>
        (
          await q.query(
            `UPDATE connections SET tokens_sealed = $3, token_version = token_version + 1
             WHERE id = $1 AND tokens_sealed = $2`,
            [r.id, r.tokens_sealed, sealed],
          )
        ).rowCount > 0,
    });
  }
  const slack = await tx.query<{
    tenant_id: string;
    bot_token_sealed: string;
    refresh_token_sealed: string | null;
  }>(
    `SELECT tenant_id, bot_token_sealed, refresh_token_sealed FROM slack_installations
     ORDER BY tenant_id FOR UPDATE`,
  );
  for (const r of slack.rows) {
    const column = (name: "bot_token_sealed" | "refresh_token_sealed", value: string): SealedValue => ({
      kind: "Slack installation tokens",
      sealed: value,
      context: slackTokenContext(r.tenant_id),
      write: async (q, sealed) =>
        (
          await q.query(`UPDATE slack_installations SET ${name} = $3 WHERE tenant_id = $1 AND ${name} = $2`, [
            r.tenant_id,
            value,
            sealed,
          ])
        ).rowCount > 0,
    });
    out.push(column("bot_token_sealed", r.bot_token_sealed));
    if (r.refresh_token_sealed) out.push(column("refresh_token_sealed", r.refresh_token_sealed));
  }
  const states = await tx.query<{ state_hash: string; provider: string; verifier: string }>(
    `SELECT state_hash, provider, data->>'verifier' AS verifier FROM oauth_states
     WHERE data ? 'verifier' AND expires_at > now() ORDER BY state_hash FOR UPDATE`,
  );
  for (const r of states.rows) {
    out.push({
      kind: "sign-ins under way (PKCE verifiers)",
      sealed: r.verifier,
      context: pkceSealContext(r.provider),
      write: async (q, sealed) =>
        (
          await q.query(
            `UPDATE oauth_states SET data = jsonb_set(data, '{verifier}', to_jsonb($3::text))
             WHERE state_hash = $1 AND data->>'verifier' = $2`,
            [r.state_hash, r.verifier, sealed],
          )
        ).rowCount > 0,
    });
  }
  return out;
}

/** Kinds always reported, even when the database holds none of them. */
const KINDS = [
  "AI keys (workspace)",
  "AI keys (personal)",
  "connection tokens (google)",
  "connection tokens (microsoft, MSAL cache)",
  "Slack installation tokens",
  "sign-ins under way (PKCE verifiers)",
];

class Unreadable extends Error {}

/**
 * Re-seals every sealed secret that was sealed with another master key than `sealer`'s current
 * one (`sealer` must know the old keys: ATOM_ENCRYPTION_KEY_PREVIOUS), in one transaction.
 * @returns counts per kind; `committed: false` (and nothing written) when any value could not be
 *   opened with a known key. Never includes a secret.
 */
export async function rotateSealedSecrets(db: Db, sealer: Sealer): Promise<RotationResult> {
  const counts = new Map<string, RotationCount>(
    KINDS.map((kind) => [kind, { kind, resealed: 0, current: 0, unreadable: 0 }]),
  );
  const count = (kind: string) => {
    let c = counts.get(kind);
    if (!c) {
      c = { kind, resealed: 0, current: 0, unreadable: 0 };
      counts.set(kind, c);
    }
    return c;
  };
  try {
    await db.transaction(async (tx) => {
      const values = await sealedValues(tx);
      const plans: Array<{ v: SealedValue; sealed: string }> = [];
      for (const v of values) {
        if (!sealer.needsReseal(v.sealed)) {
          count(v.kind).current++;
          continue;
        }
        try {
          plans.push({ v, sealed: sealer.seal(sealer.open(v.sealed, v.context), v.context) });
        } catch {
          count(v.kind).unreadable++;
        }
      }
      if ([...counts.values()].some((c) => c.unreadable > 0)) throw new Unreadable();
      for (const { v, sealed } of plans) if (await v.write(tx, sealed)) count(v.kind).resealed++;
    });
  } catch (err) {
    if (!(err instanceof Unreadable)) throw err;
    for (const c of counts.values()) c.resealed = 0;
    return { counts: [...counts.values()], committed: false };
  }
  return { counts: [...counts.values()], committed: true };
}
