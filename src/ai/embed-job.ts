import { PermanentJobError, RetryJobError } from "../core/worker.ts";
import { type EmbeddingSpace, sameSpace } from "../db/embedding-spaces.ts";
import { EmbeddingError, embeddingText } from "../memory/embed.ts";
import { HEADING_SEPARATOR } from "../memory/store.ts";
import type { WorkspaceEmbeddings } from "./embeddings.ts";

/** What one background round did (stored as the job's result). */
export interface EmbedRoundResult {
  /** `off`: no key, vectors dropped; `ready`: the wanted space is complete and active; `cap`: stopped at the monthly cap. */
  status: "off" | "ready" | "cap";
  model?: string;
  dims?: number;
  /** Chunks embedded in this round. */
  embedded: number;
  /** Whether this round made a new space active. */
  switched: boolean;
}

/** Why a round stopped at ATOM_MONTHLY_TOKEN_CAP (shown by `status`). */
const CAP_REACHED = "monthly token cap reached: no new embeddings until next month";
/** Wait before retrying a 429 that named no wait, ms. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 20_000;
/** Passes over the tenant's chunks per round (chunks added while one pass runs are caught by the next). */
const MAX_PASSES = 3;

/**
 * One background embedding round for a tenant (the `embed` queue's handler):
 * 1. No key, or embeddings turned off → the tenant's vectors are dropped and its state cleared
 *    (full-text search only).
 * 2. Otherwise the wanted space (model, API root, dimension) is compared with the active one; a
 *    different one becomes the space being built, while searches keep using the active one.
 * 3. Every chunk without a vector in the target space is embedded in batches (usage counted; the
 *    monthly cap checked before each batch) and stored only if its text did not change meanwhile;
 *    vectors whose chunk is gone are deleted.
 * 4. Once the space being built covers every chunk, it becomes active in one statement; after
 *    `cacheMs` (replicas' caches expire) the old space's vectors of the tenant are dropped.
 * A 429 after the SDK's retries hands the job back with the provider's `Retry-After`; a refused
 * key (401/403) marks the key, tells its owner once and ends the job; other failures are retried
 * with backoff. Vectors stored before a failure stay.
 * @throws RetryJobError | PermanentJobError | EmbeddingError as described.
 */
export async function runEmbedRound(
  svc: WorkspaceEmbeddings,
  tenantId: string,
  signal?: AbortSignal,
): Promise<EmbedRoundResult> {
  const { store, spaces } = svc;
  // Over the cap nothing is sent, not even a dimension probe; searches answer by full text.
  if ((await svc.keyOf(tenantId)) && (await svc.opts.ai.overCap(tenantId))) {
    await spaces.setError(tenantId, CAP_REACHED);
    svc.invalidate(tenantId);
    return { status: "cap", embedded: 0, switched: false };
  }
  let wanted: Awaited<ReturnType<WorkspaceEmbeddings["wanted"]>>;
  try {
    wanted = await svc.wanted(tenantId);
  } catch (err) {
    throw await jobError(svc, tenantId, err, undefined);
  }
  const state = await spaces.get(tenantId);
  if (!wanted) {
    for (const s of [state.active, state.building]) if (s) await store.deleteVectors(s.table, tenantId);
    await spaces.clear(tenantId);
    svc.invalidate(tenantId);
    return { status: "off", embedded: 0, switched: false };
  }
  const target = wanted.space;
  if (sameSpace(state.active, target)) {
    if (state.building) {
      // Changed back before the other space was complete: drop what was built.
      if (state.building.table !== target.table) await store.deleteVectors(state.building.table, tenantId);
      await spaces.stopBuilding(tenantId);
    }
  } else if (!sameSpace(state.building, target)) {
    if (state.building && state.building.table !== state.active?.table) {
      await store.deleteVectors(state.building.table, tenantId);
    }
    await spaces.startBuilding(tenantId, target);
    svc.opts.logger.info(
      { tenantId, from: state.active?.model ?? null, to: target.model, dims: target.dims },
      "embedding model changed: re-embedding in the background; searches use the old vectors until done",
    );
  }

  let tokens = 0;
  const embedder = await svc.embedderFor(tenantId, wanted.key, target, (n) => {
    tokens += n;
  });
  const batchSize = svc.opts.batchSize ?? 256;
  let embedded = 0;
  let complete = false;
  for (let pass = 0; pass < MAX_PASSES && !complete; pass++) {
    const gaps = await store.vectorGaps(target.table, tenantId);
    if (gaps.orphans.length > 0) await store.deleteVectors(target.table, tenantId, gaps.orphans);
    if (gaps.missing.length === 0) {
      complete = true;
      break;
    }
    for (let i = 0; i < gaps.missing.length; i += batchSize) {
      if (signal?.aborted) throw signal.reason ?? new Error("aborted");
      if (await svc.opts.ai.overCap(tenantId)) {
        await spaces.setError(tenantId, CAP_REACHED);
        return { status: "cap", model: target.model, dims: target.dims, embedded, switched: false };
      }
      const texts = await store.chunkTexts(gaps.missing.slice(i, i + batchSize));
      if (texts.length === 0) continue;
      let vectors: number[][];
      try {
        vectors = await embedder.embed(
          texts.map((t) =>
            embeddingText(t.title, t.headings ? t.headings.split(HEADING_SEPARATOR) : [], t.text),
          ),
        );
      } catch (err) {
        throw await jobError(svc, tenantId, err, wanted.key);
      } finally {
        if (tokens > 0) await svc.recordUsage(tenantId, tokens);
        tokens = 0;
      }
      embedded += await store.putVectors(
        target,
        texts.map((t, k) => ({ id: t.id, hash: t.hash, vector: vectors[k]! })),
      );
    }
  }
  if (embedded > 0) await store.compactVectors(target.table);
  if (!complete) {
    // Chunks kept arriving faster than one round embeds them: the next round goes on.
    svc.offer(tenantId, "more");
    return { status: "ready", model: target.model, dims: target.dims, embedded, switched: false };
  }
  let switched = false;
  const before = state.active;
  if (!sameSpace(before, target) && (await spaces.activate(tenantId, target))) {
    switched = true;
    svc.invalidate(tenantId);
    svc.opts.logger.info({ tenantId, model: target.model, dims: target.dims }, "embedding space switched");
    if (before && before.table !== target.table) await dropLater(svc, tenantId, before, signal);
  } else await spaces.setError(tenantId, null);
  return { status: "ready", model: target.model, dims: target.dims, embedded, switched };
}

/** Drops a tenant's vectors of the space it left, after replicas' caches of it expired. */
async function dropLater(
  svc: WorkspaceEmbeddings,
  tenantId: string,
  old: EmbeddingSpace,
  signal?: AbortSignal,
): Promise<void> {
  if (svc.cacheMs > 0) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, svc.cacheMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  await svc.store.deleteVectors(old.table, tenantId);
}

/** The job outcome of an embedding failure (see {@link runEmbedRound}). */
async function jobError(
  svc: WorkspaceEmbeddings,
  tenantId: string,
  err: unknown,
  key: Parameters<WorkspaceEmbeddings["opts"]["ai"]["keyRefused"]>[1] | undefined,
): Promise<Error> {
  if (!(err instanceof EmbeddingError)) return err instanceof Error ? err : new Error(String(err));
  await svc.spaces.setError(tenantId, err.message).catch(() => {});
  if (err.status === 429) {
    return new RetryJobError(err.message, err.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, { cause: err });
  }
  if (err.status === 401 || err.status === 403) {
    if (key) await svc.opts.ai.keyRefused(tenantId, key);
    return new PermanentJobError(err.message, { cause: err });
  }
  if (err.status === 404 || err.status === 400) return new PermanentJobError(err.message, { cause: err });
  return err;
}
