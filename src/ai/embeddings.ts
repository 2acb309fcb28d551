import { createHash, randomUUID } from "node:crypto";
import type { Config } from "../config.ts";
import type { JobWorker } from "../core/worker.ts";
import { type EmbeddingSpace, EmbeddingSpaceStore, type EmbeddingState } from "../db/embedding-spaces.ts";
import type { Db } from "../db/types.ts";
import { createOpenAiEmbedder, type Embedder, OPENAI_EMBEDDING_DIMS } from "../memory/embed.ts";
import type { QueryVectors } from "../memory/hybrid.ts";
import { type ChunkStore, eq } from "../memory/store.ts";
import { vectorTableName } from "../memory/vectors.ts";
import type { Logger } from "../observability/logger.ts";
import type { AiService } from "./service.ts";
import type { KeyVault, ResolvedKey } from "./vault.ts";

/** The durable queue of background embedding rounds (one per tenant at a time). */
export const EMBED_QUEUE = "embed";

/**
 * Embedding model values that turn embeddings off for a workspace that keeps its key for answers
 * (settings page).
 */
export const EMBEDDINGS_OFF: readonly string[] = ["off", "none"];

/** Embedding model when neither the workspace nor OPENAI_EMBEDDING_MODEL names one. */
export const DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small";

/** What a tenant should embed with now: the key that pays and the space it fills. */
export interface WantedSpace {
  key: ResolvedKey;
  space: EmbeddingSpace;
}

/** Settings of {@link WorkspaceEmbeddings}. */
export interface WorkspaceEmbeddingsOptions {
  db: Db;
  vault: KeyVault;
  ai: AiService;
  store: ChunkStore;
  config: Pick<Config, "env">;
  logger: Logger;
  /** Where rounds are enqueued; without it {@link WorkspaceEmbeddings.offer} does nothing. */
  jobs?: JobWorker;
  /**
   * How long a search reuses a tenant's resolved space, key and cap check, ms (default 5000). A
   * round that switched spaces waits this long before dropping the old vectors, so replicas still
   * searching the old space finish first.
   */
  cacheMs?: number;
  /** Chunks embedded per request (default 256). */
  batchSize?: number;
  /**
   * Retries of one request inside the SDK (it waits `retry-after-ms`/`Retry-After`); after them a
   * 429 hands the round back to the queue for the wait the provider asked (default 2).
   */
  maxRetries?: number;
}

/**
 * Embeddings per workspace (issue 12, item 6). A tenant's OpenAI key — its workspace key, else
 * OPENAI_API_KEY — and embedding model (settings page, else OPENAI_EMBEDDING_MODEL) define the
 * embedding space it wants. Vectors are written only in the background by rounds on the durable
 * `embed` queue (ai/embed-job.ts); searches use the tenant's *active* space, embedding the query
 * with that space's model, until a new space is complete — then `embedding_spaces` switches in one
 * statement. Without a key, or over ATOM_MONTHLY_TOKEN_CAP, a tenant searches by full text only.
 */
export class WorkspaceEmbeddings {
  readonly spaces: EmbeddingSpaceStore;
  private readonly dimsCache = new Map<string, number>();
  private readonly queryCache = new Map<string, { at: number; value: Promise<QueryVectors | undefined> }>();
  private readonly embedders = new Map<string, Embedder>();
  /**
   * How long a search reuses a tenant's resolved space, ms (see {@link WorkspaceEmbeddingsOptions.cacheMs});
   * 0 re-resolves on every search.
   */
  cacheMs: number;

  constructor(readonly opts: WorkspaceEmbeddingsOptions) {
    this.spaces = new EmbeddingSpaceStore(opts.db);
    this.cacheMs = opts.cacheMs ?? 5000;
  }

  get store(): ChunkStore {
    return this.opts.store;
  }

  /**
   * The model a tenant wants (its setting, else OPENAI_EMBEDDING_MODEL, else the default);
   * undefined when the workspace turned embeddings off ({@link EMBEDDINGS_OFF}).
   */
  async modelOf(tenantId: string): Promise<string | undefined> {
    const settings = await this.opts.ai.store.settings(tenantId);
    const model =
      settings.embeddingModel ?? this.opts.config.env.OPENAI_EMBEDDING_MODEL ?? DEFAULT_EMBEDDING_MODEL;
    return EMBEDDINGS_OFF.includes(model.trim().toLowerCase()) ? undefined : model;
  }

  /** The OpenAI key for a tenant's embeddings: workspace, else environment; a refused key is skipped. */
  keyOf(tenantId: string): Promise<ResolvedKey | undefined> {
    return this.opts.vault.resolve(tenantId, "openai", undefined, { skipRefused: true });
  }

  /**
   * The space a tenant wants now, or undefined without a key. An unknown model's dimension is
   * probed once per API root and model (one request, counted as usage).
   * @throws EmbeddingError when the probe fails.
   */
  async wanted(tenantId: string): Promise<WantedSpace | undefined> {
    const key = await this.keyOf(tenantId);
    if (!key) return undefined;
    const model = await this.modelOf(tenantId);
    if (!model) return undefined;
    const baseUrl = key.baseURL ?? "";
    const dimsKey = `${baseUrl}\u0000${model}`;
    let dims = this.dimsCache.get(dimsKey) ?? (baseUrl === "" ? OPENAI_EMBEDDING_DIMS[model] : undefined);
    if (dims === undefined) {
      const probe = await createOpenAiEmbedder({
        apiKey: key.apiKey,
        baseURL: key.baseURL,
        model,
        maxRetries: this.opts.maxRetries ?? 2,
        onUsage: (tokens) => void this.recordUsage(tenantId, tokens),
      });
      dims = probe.dims;
    }
    this.dimsCache.set(dimsKey, dims);
    return { key, space: { model, dims, baseUrl, table: vectorTableName(model, dims, baseUrl) } };
  }

  /**
   * An embedder of `space` with `key`; the input tokens of every request go to `onUsage`, by
   * default added to the tenant's month. Query embedders are reused per tenant, key and space.
   */
  embedderFor(tenantId: string, key: ResolvedKey, space: EmbeddingSpace, onUsage?: (n: number) => void) {
    return createOpenAiEmbedder({
      apiKey: key.apiKey,
      baseURL: key.baseURL,
      model: space.model,
      dims: space.dims,
      batchSize: this.opts.batchSize ?? 256,
      maxRetries: this.opts.maxRetries ?? 2,
      concurrency: 1,
      onUsage: onUsage ?? ((tokens) => void this.recordUsage(tenantId, tokens)),
    });
  }

  /** Adds embedding tokens to a tenant's usage of this month (provider `openai`); never rejects. */
  recordUsage(tenantId: string, tokens: number): Promise<void> {
    return this.opts.ai.store
      .addUsage({ tenantId, provider: "openai", inputTokens: tokens })
      .catch((err: unknown) => this.opts.logger.warn({ err, tenantId }, "could not record embedding usage"));
  }

  /**
   * What a search of `tenantId` embeds its query with and searches: the tenant's active space (the
   * old model while a new one is being built) with the tenant's current key. Undefined — full-text
   * search only — when no space is active, the key was removed, embeddings were turned off, or
   * the monthly cap is reached.
   * Cached per tenant for `cacheMs`.
   */
  queryVectors(tenantId: string): Promise<QueryVectors | undefined> {
    const now = Date.now();
    const hit = this.queryCache.get(tenantId);
    if (hit && now - hit.at < this.cacheMs) return hit.value;
    const value = this.resolveQuery(tenantId);
    this.queryCache.set(tenantId, { at: now, value });
    value.catch(() => this.queryCache.delete(tenantId));
    return value;
  }

  private async resolveQuery(tenantId: string): Promise<QueryVectors | undefined> {
    const state = await this.spaces.get(tenantId);
    if (!state.active) return undefined;
    const key = await this.keyOf(tenantId);
    if (!key) return undefined;
    if (!(await this.modelOf(tenantId))) return undefined;
    if (await this.opts.ai.overCap(tenantId)) return undefined;
    const id = createHash("sha256")
      .update(`${tenantId}\u0000${key.apiKey}\u0000${key.baseURL ?? ""}\u0000${state.active.table}`)
      .digest("hex");
    let embedder = this.embedders.get(id);
    if (!embedder) {
      embedder = await this.embedderFor(tenantId, key, state.active);
      if (this.embedders.size > 200) this.embedders.clear();
      this.embedders.set(id, embedder);
    }
    return { embedder, table: state.active.table };
  }

  /** Forgets what searches of a tenant cached (its key, model or space changed here). */
  invalidate(tenantId: string): void {
    this.queryCache.delete(tenantId);
  }

  /**
   * A tenant's AI settings changed (key set or removed, base URL, embedding model): searches
   * re-resolve at once and a background round is offered.
   */
  changed(tenantId: string): void {
    this.invalidate(tenantId);
    this.offer(tenantId, "settings");
  }

  /**
   * Offers a background round for a tenant; a round already waiting absorbs it (one singleton per
   * tenant). Never throws; without a job worker it does nothing.
   */
  offer(tenantId: string, reason: string): void {
    const jobs = this.opts.jobs;
    if (!jobs) return;
    jobs
      .enqueue({
        queue: EMBED_QUEUE,
        tenantId,
        key: `${reason}:${Date.now()}:${randomUUID().slice(0, 8)}`,
        singletonKey: `embed:${tenantId}`,
        payload: { reason },
        maxAttempts: 10,
      })
      .catch((err: unknown) =>
        this.opts.logger.warn({ err, tenantId }, "could not offer an embedding round"),
      );
  }

  /** Offers a round to every tenant that has chunks or an embedding space (start-up). */
  async offerAll(): Promise<number> {
    const r = await this.opts.db.query<{ tenant_id: string }>(
      "SELECT DISTINCT tenant_id FROM sources UNION SELECT tenant_id FROM embedding_spaces",
    );
    for (const row of r.rows) this.offer(row.tenant_id, "startup");
    return r.rows.length;
  }

  /** Vectors and chunks of a tenant per space, for `status`. */
  async coverage(tenantId: string): Promise<{
    state: EmbeddingState;
    chunks: number;
    active?: number;
    building?: number;
  }> {
    const state = await this.spaces.get(tenantId);
    const [chunks, active, building] = await Promise.all([
      this.store.count(eq("tenant_id", tenantId)),
      state.active ? this.store.vectors.count(state.active.table, tenantId) : undefined,
      state.building ? this.store.vectors.count(state.building.table, tenantId) : undefined,
    ]);
    return { state, chunks, active, building };
  }
}
