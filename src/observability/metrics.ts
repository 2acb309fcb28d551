import client from "prom-client";

/** Prometheus registry of one Atom process, with default Node.js metrics. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/** Webhook requests by route and status (ack latency in seconds). */
export const webhookAckSeconds = new client.Histogram({
  name: "atom_webhook_ack_seconds",
  help: "Time from receiving a webhook to acknowledging it, seconds",
  labelNames: ["route", "status"] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
  registers: [registry],
});

/** Answers produced by intent and outcome. */
export const answersTotal = new client.Counter({
  name: "atom_answers_total",
  help: "Replies produced by the bot core",
  labelNames: ["platform", "intent", "found"] as const,
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
