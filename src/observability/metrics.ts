import client from "prom-client";

/** Prometheus registry of one Atom process, with default Node.js metrics. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/** Webhook ack latency in seconds by platform (`slack`, `teams`) and HTTP status. */
export const webhookAckSeconds = new client.Histogram({
  name: "atom_webhook_ack_seconds",
  help: "Time from receiving a webhook to acknowledging it, seconds",
  labelNames: ["platform", "status"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
  registers: [registry],
});

/** Webhook requests by platform and HTTP status. */
export const webhookRequestsTotal = new client.Counter({
  name: "atom_webhook_requests_total",
  help: "Webhook requests received, by platform and HTTP status",
  labelNames: ["platform", "status"] as const,
  registers: [registry],
});

/**
 * Records one acknowledged webhook: counts it and observes its ack latency.
 * @param platform `slack` or `teams` (a bounded label).
 * @param startedMs `performance.now()` when the request arrived.
 */
export function observeWebhook(platform: "slack" | "teams", status: number, startedMs: number): void {
  const labels = { platform, status: String(status) };
  webhookRequestsTotal.inc(labels);
  webhookAckSeconds.observe(labels, (performance.now() - startedMs) / 1000);
}

/** Answers produced by intent and outcome. */
export const answersTotal = new client.Counter({
  name: "atom_answers_total",
  help: "Replies produced by the bot core",
  labelNames: ["platform", "intent", "found"] as const,
  registers: [registry],
});

/** How an `ask` was answered. */
export type AnswerMode = "extractive" | "generated" | "not_found";

/** Answers to questions by mode (extractive, generated, not_found) and platform. */
export const answersByModeTotal = new client.Counter({
  name: "atom_answers_by_mode_total",
  help: "Answers to questions by mode: extractive, generated or not_found",
  labelNames: ["platform", "mode"] as const,
  registers: [registry],
});

/** Search latency in seconds. */
export const searchSeconds = new client.Histogram({
  name: "atom_search_seconds",
  help: "Memory search latency, seconds",
  labelNames: ["mode"] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  registers: [registry],
});

/** Durable jobs finished by queue and outcome (done, retried, dead, released, lost). */
export const jobsFinishedTotal = new client.Counter({
  name: "atom_jobs_finished_total",
  help: "Job attempts finished by this process, by queue and outcome",
  labelNames: ["queue", "outcome"] as const,
  registers: [registry],
});

/** How long one job attempt ran, seconds. */
export const jobSeconds = new client.Histogram({
  name: "atom_job_seconds",
  help: "Duration of one job attempt, seconds",
  labelNames: ["queue"] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

/** Documents changed by syncs, by source kind and change (added, updated, deleted). */
export const syncDocumentsTotal = new client.Counter({
  name: "atom_sync_documents_total",
  help: "Documents written or removed by syncs, by source kind and change",
  labelNames: ["kind", "change"] as const,
  registers: [registry],
});

/** Documents a sync could not read, by source kind. */
export const syncErrorsTotal = new client.Counter({
  name: "atom_sync_errors_total",
  help: "Documents (or whole syncs) that failed, by source kind",
  labelNames: ["kind"] as const,
  registers: [registry],
});

/** Duration of one sync, seconds, by source kind and outcome (ok, partial, failed). */
export const syncSeconds = new client.Histogram({
  name: "atom_sync_seconds",
  help: "Duration of one sync of a source, seconds",
  labelNames: ["kind", "outcome"] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [registry],
});

/** Workflow runs that reached a status (succeeded, failed, retrying, skipped, missed). */
export const workflowRunsTotal = new client.Counter({
  name: "atom_workflow_runs_total",
  help: "Workflow runs by final or retry status",
  labelNames: ["status"] as const,
  registers: [registry],
});

/** Requests refused by a rate limit, by kind (question, transcription) and scope (user, workspace). */
export const rateLimitedTotal = new client.Counter({
  name: "atom_rate_limited_total",
  help: "Requests refused by a rate limit, by kind and scope",
  labelNames: ["kind", "scope"] as const,
  registers: [registry],
});

/**
 * What the gauges read when Prometheus scrapes: the composed process registers one
 * ({@link setGaugeSource}). Each function returns bounded labels only.
 */
export interface GaugeSource {
  /** Jobs per queue and status, with the oldest job's age in seconds. */
  jobs(): Promise<{ queue: string; status: string; count: number; oldestAgeSeconds: number }[]>;
  /** Connections per source kind and status (ok, broken, …). */
  connections(): Promise<{ kind: string; status: string; count: number }[]>;
  /** The LanceDB chunks table. */
  lancedb(): Promise<{ rows: number; versions: number; bytes: number }>;
}

let gaugeSource: GaugeSource | undefined;

/**
 * Sets (or clears, with `undefined`) what the collected gauges read. The last composed process
 * wins; clearing only happens when `source` is the current one.
 */
export function setGaugeSource(source: GaugeSource | undefined, current?: GaugeSource): void {
  if (source === undefined && current !== undefined && gaugeSource !== current) return;
  gaugeSource = source;
}

/** Reads a gauge source part, ignoring failures (a scrape never fails because a part is down). */
async function read<T>(f: (s: GaugeSource) => Promise<T>): Promise<T | undefined> {
  if (!gaugeSource) return undefined;
  try {
    return await f(gaugeSource);
  } catch {
    return undefined;
  }
}

/** Jobs waiting or running, per queue and status. */
export const queueDepth = new client.Gauge({
  name: "atom_queue_depth",
  help: "Jobs per queue and status",
  labelNames: ["queue", "status"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const j of (await read((s) => s.jobs())) ?? [])
      this.set({ queue: j.queue, status: j.status }, j.count);
  },
});

/** Age of the oldest queued job per queue, seconds. */
export const queueOldestSeconds = new client.Gauge({
  name: "atom_queue_oldest_job_age_seconds",
  help: "Age of the oldest queued job per queue, seconds",
  labelNames: ["queue"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const j of (await read((s) => s.jobs())) ?? []) {
      if (j.status === "queued") this.set({ queue: j.queue }, j.oldestAgeSeconds);
    }
  },
});

/** Connections per source kind and status. */
export const connectionsGauge = new client.Gauge({
  name: "atom_connections",
  help: "Connections per source kind and status",
  labelNames: ["kind", "status"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const c of (await read((s) => s.connections())) ?? []) {
      this.set({ kind: c.kind, status: c.status }, c.count);
    }
  },
});

/** LanceDB chunks table: rows, versions kept, bytes. */
export const lancedbGauge = new client.Gauge({
  name: "atom_lancedb_table",
  help: "LanceDB chunks table: rows, versions and bytes",
  labelNames: ["measure"] as const,
  registers: [registry],
  async collect() {
    this.reset();
    const t = await read((s) => s.lancedb());
    if (!t) return;
    this.set({ measure: "rows" }, t.rows);
    this.set({ measure: "versions" }, t.versions);
    this.set({ measure: "bytes" }, t.bytes);
  },
});
