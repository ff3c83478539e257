import type { Queue } from "bullmq";
import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { CONSUMER_GROUP } from "../../queues/stream-bridge";
import { undeliveredEvents } from "../../queues/backlog";
import { readPipelineMetrics } from "./pipeline-metrics";
import { streamGroupsInfo } from "../redis/keyed-commands";

const queueStates = ["waiting", "active", "delayed", "prioritized", "paused", "waiting-children", "failed", "completed"] as const;

export type IngestCounts = { accepted: number; duplicates: number; invalid: number; tooLarge: number };

/**
 * Everything /metrics shows. Per-process counters (HTTP, ingest outcomes) live in this
 * process; cluster-wide numbers (streams, queues, worker stages) are read from Redis at
 * scrape time, so they read the same from every API replica: aggregate those with max(),
 * not sum(), across instances.
 */
export type ApiMetrics = {
  registry: Registry;
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  ingested(counts: IngestCounts): void;
  rateLimited(role: string): void;
  /** Prometheus text exposition, with the scrape-time numbers read now. */
  scrape(): Promise<string>;
};

export type ScrapeSources = { redis: RedisClient; keys: Keyspace; queues: Record<string, Queue> };

export function createApiMetrics(sources: ScrapeSources): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];

  const requests = new Counter({ name: "lifeline_http_requests_total", help: "HTTP requests answered, by route template and status code", labelNames: ["method", "route", "code"], registers });
  const latency = new Histogram({
    name: "lifeline_http_request_duration_seconds",
    help: "Time from request to response, by route template",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const accepted = new Counter({ name: "lifeline_events_accepted_total", help: "Events appended to the stream (a 2xx means they are in Redis)", registers });
  const duplicates = new Counter({ name: "lifeline_events_duplicate_total", help: "Events skipped because their messageId was seen within the dedup window", registers });
  const rejected = new Counter({ name: "lifeline_events_rejected_total", help: "Events refused at ingest, by reason (invalid | too_large)", labelNames: ["reason"], registers });
  const limited = new Counter({ name: "lifeline_rate_limited_total", help: "Requests answered 429 by the per-key rate limit, by key role", labelNames: ["role"], registers });
  for (const reason of ["invalid", "too_large"]) rejected.inc({ reason }, 0);

  const streamLength = new Gauge({ name: "lifeline_stream_length", help: "Entries in a partition stream (XLEN; one entry holds a request's events for that partition)", labelNames: ["partition"], registers });
  const streamLag = new Gauge({ name: "lifeline_stream_group_lag", help: "Events in a partition stream not yet delivered to the workers' consumer group", labelNames: ["partition"], registers });
  const streamPending = new Gauge({ name: "lifeline_stream_group_pending", help: "Stream entries delivered to a worker but not yet acknowledged", labelNames: ["partition"], registers });
  const queueJobs = new Gauge({ name: "lifeline_queue_jobs", help: "BullMQ jobs per queue and state", labelNames: ["queue", "state"], registers });
  const deadLetters = new Gauge({ name: "lifeline_dead_letters", help: "Dead letters waiting for replay or deletion", registers });
  const scrapeErrors = new Counter({ name: "lifeline_metrics_scrape_errors_total", help: "Scrape-time reads from Redis that failed, by source", labelNames: ["source"], registers });

  async function collectStreams(): Promise<void> {
    streamLength.reset();
    streamLag.reset();
    streamPending.reset();
    const undelivered = await undeliveredEvents(sources.redis, sources.keys);
    await Promise.all(
      Array.from({ length: sources.keys.partitions }, async (_, p) => {
        const stream = sources.keys.stream(p);
        const [length, groups] = await Promise.all([
          sources.redis.xlen(stream),
          streamGroupsInfo(sources.redis, stream).catch(() => [] as unknown[][]),
        ]);
        const partition = String(p);
        streamLength.set({ partition }, length);
        // Not XINFO's lag: it can stay wrong forever after an AOF rewrite and a restart.
        streamLag.set({ partition }, undelivered[p]!);
        const group = groups.map(fieldsOf).find((g) => g.name === CONSUMER_GROUP);
        streamPending.set({ partition }, group ? Number(group.pending ?? 0) : 0);
      }),
    );
  }

  async function collectQueues(): Promise<void> {
    queueJobs.reset();
    await Promise.all(
      Object.entries(sources.queues).map(async ([name, queue]) => {
        const counts = await queue.getJobCounts(...queueStates);
        for (const state of queueStates) queueJobs.set({ queue: name, state }, counts[state] ?? 0);
        if (name === "dead-letter") deadLetters.set((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.paused ?? 0) + (counts.prioritized ?? 0));
      }),
    );
  }

  // Worker-recorded numbers: rendered from the Redis hashes on each scrape (see pipeline-metrics.ts).
  const stageSeconds = redisBacked("lifeline_stage_duration_seconds", "histogram", "Time workers spent per pipeline stage (clean, embed, upsert, inference), all workers");
  const upstreamCalls = redisBacked("lifeline_upstream_calls_total", "counter", "Embedding and LLM calls by outcome (ok, retry, timeout, fallback, error), all workers");
  registry.registerMetric(stageSeconds.metric);
  registry.registerMetric(upstreamCalls.metric);

  async function collectPipeline(): Promise<void> {
    const { stages, calls } = await readPipelineMetrics(sources.redis, sources.keys.prefix);
    stageSeconds.values = stages.flatMap((h) => [
      ...h.buckets.map((b) => ({ metricName: "lifeline_stage_duration_seconds_bucket", labels: { stage: h.stage, le: b.le }, value: b.cumulative })),
      { metricName: "lifeline_stage_duration_seconds_sum", labels: { stage: h.stage }, value: h.sum },
      { metricName: "lifeline_stage_duration_seconds_count", labels: { stage: h.stage }, value: h.count },
    ]);
    upstreamCalls.values = calls.map((c) => ({ labels: { call: c.call, outcome: c.outcome }, value: c.count }));
  }

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, code: String(status) });
      latency.observe({ method, route }, seconds);
    },
    ingested(c) {
      if (c.accepted) accepted.inc(c.accepted);
      if (c.duplicates) duplicates.inc(c.duplicates);
      if (c.invalid) rejected.inc({ reason: "invalid" }, c.invalid);
      if (c.tooLarge) rejected.inc({ reason: "too_large" }, c.tooLarge);
    },
    rateLimited: (role) => limited.inc({ role }),
    async scrape() {
      // One failing source must not blank the others: count it and show the rest.
      const results = await Promise.allSettled([collectStreams(), collectQueues(), collectPipeline()]);
      results.forEach((r, i) => {
        if (r.status === "rejected") scrapeErrors.inc({ source: ["streams", "queues", "pipeline"][i] });
      });
      return registry.metrics();
    },
  };
}

type MetricValue = { metricName?: string; labels: Record<string, string>; value: number };

/** A metric whose values are set from outside before each scrape (prom-client renders it). */
function redisBacked(name: string, type: "counter" | "histogram", help: string) {
  const holder = {
    values: [] as MetricValue[],
    metric: {
      name,
      help,
      type,
      aggregator: "sum",
      get: async () => ({ name, help, type, aggregator: "sum", values: holder.values }),
      reset: () => undefined,
    } as unknown as Metric,
  };
  return holder;
}

/** XINFO replies are flat [field, value, …] lists. */
function fieldsOf(reply: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1];
  return out;
}
