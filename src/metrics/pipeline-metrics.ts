import type { RedisClient } from "../redis/connection";

// Worker processes come and go (and scale out on other machines), so they do not serve
// /metrics themselves: they add their observations to Redis hashes, and the API's /metrics
// reads them at scrape time. Counts are cluster-wide totals that survive worker restarts;
// Prometheus sees one monotonic series per label set, whichever API replica it scrapes.
// A worker buffers in memory and flushes once per interval: one pipelined round trip, not
// one per job.

export const pipelineStages = ["clean", "embed", "upsert", "inference"] as const;
export type PipelineStage = (typeof pipelineStages)[number];

/** Calls to an upstream model: the embedding provider or the strategy LLM. */
export const upstreamCalls = ["embedding", "llm"] as const;
export type UpstreamCall = (typeof upstreamCalls)[number];
export const callOutcomes = ["ok", "retry", "timeout", "fallback", "error"] as const;
export type CallOutcome = (typeof callOutcomes)[number];

/** Upper bounds (seconds) of the stage-duration histogram buckets. */
export const STAGE_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

/** Hash tag {metrics}: each hash is one key; the tag keeps them together on Redis Cluster. */
export const pipelineMetricKeys = (prefix: string) => ({
  /** Fields `<stage>|<le>` (non-cumulative bucket counts, le = bound or +Inf), `<stage>|sum`, `<stage>|count`. */
  stageSeconds: `${prefix}:{metrics}:stage_seconds`,
  /** Fields `<call>|<outcome>`. */
  calls: `${prefix}:{metrics}:upstream_calls`,
});

export type PipelineMetrics = {
  observeStage(stage: PipelineStage, seconds: number): void;
  /** Runs fn and observes its duration under stage, whether it resolves or throws. */
  timeStage<T>(stage: PipelineStage, fn: () => Promise<T>): Promise<T>;
  countCall(call: UpstreamCall, outcome: CallOutcome): void;
  /** Writes what is buffered; called by the timer and on stop. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  stop(): Promise<void>;
};

const bucketOf = (seconds: number) => {
  const le = STAGE_BUCKETS_SECONDS.find((b) => seconds <= b);
  return le === undefined ? "+Inf" : String(le);
};

export function createPipelineMetrics(redis: RedisClient, prefix: string, opts: { flushIntervalMs?: number } = {}): PipelineMetrics {
  const keys = pipelineMetricKeys(prefix);
  let counts = new Map<string, number>();
  let sums = new Map<string, number>();
  let calls = new Map<string, number>();
  const add = (m: Map<string, number>, field: string, by: number) => m.set(field, (m.get(field) ?? 0) + by);

  async function flush(): Promise<void> {
    if (!counts.size && !sums.size && !calls.size) return;
    const [c, s, k] = [counts, sums, calls];
    counts = new Map();
    sums = new Map();
    calls = new Map();
    const p = redis.pipeline();
    for (const [field, n] of c) p.hincrby(keys.stageSeconds, field, n);
    for (const [field, x] of s) p.hincrbyfloat(keys.stageSeconds, field, x);
    for (const [field, n] of k) p.hincrby(keys.calls, field, n);
    const replies = await p.exec();
    const failed = replies?.find(([err]) => err);
    // Put the numbers back so the next flush carries them: a metric is late, never lost to a blip.
    if (!replies || failed) {
      for (const [field, n] of c) add(counts, field, n);
      for (const [field, x] of s) add(sums, field, x);
      for (const [field, n] of k) add(calls, field, n);
    }
  }

  const timer = setInterval(() => void flush().catch(() => undefined), opts.flushIntervalMs ?? 2_000);
  timer.unref?.();

  const observeStage = (stage: PipelineStage, seconds: number) => {
    add(counts, `${stage}|${bucketOf(seconds)}`, 1);
    add(counts, `${stage}|count`, 1);
    add(sums, `${stage}|sum`, seconds);
  };

  return {
    observeStage,
    async timeStage(stage, fn) {
      const started = performance.now();
      try {
        return await fn();
      } finally {
        observeStage(stage, (performance.now() - started) / 1000);
      }
    },
    countCall: (call, outcome) => void add(calls, `${call}|${outcome}`, 1),
    flush,
    async stop() {
      clearInterval(timer);
      await flush().catch(() => undefined);
    },
  };
}

/** For code paths without a worker runtime (unit tests, scripts). */
export const noPipelineMetrics: PipelineMetrics = {
  observeStage: () => undefined,
  timeStage: (_stage, fn) => fn(),
  countCall: () => undefined,
  flush: async () => undefined,
  stop: async () => undefined,
};

export type StageHistogram = { stage: string; buckets: { le: string; cumulative: number }[]; sum: number; count: number };

/** What the workers recorded so far, cluster-wide. */
export async function readPipelineMetrics(redis: RedisClient, prefix: string): Promise<{ stages: StageHistogram[]; calls: { call: string; outcome: string; count: number }[] }> {
  const keys = pipelineMetricKeys(prefix);
  const [stageHash, callHash] = await Promise.all([redis.hgetall(keys.stageSeconds), redis.hgetall(keys.calls)]);
  const stages: StageHistogram[] = [];
  const seen = new Set(Object.keys(stageHash).map((f) => f.slice(0, f.lastIndexOf("|"))));
  for (const stage of [...seen].sort()) {
    let running = 0;
    const buckets = [...STAGE_BUCKETS_SECONDS.map(String), "+Inf"].map((le) => {
      running += Number(stageHash[`${stage}|${le}`] ?? 0);
      return { le, cumulative: running };
    });
    stages.push({ stage, buckets, sum: Number(stageHash[`${stage}|sum`] ?? 0), count: Number(stageHash[`${stage}|count`] ?? 0) });
  }
  const calls = Object.entries(callHash)
    .map(([field, n]) => {
      const [call = "", outcome = ""] = field.split("|");
      return { call, outcome, count: Number(n) };
    })
    .sort((a, b) => (a.call + a.outcome).localeCompare(b.call + b.outcome));
  return { stages, calls };
}

type TimedJob = { processedOn?: number; finishedOn?: number };
type JobSource = { on(event: "completed" | "failed", listener: (job: TimedJob | undefined) => void): unknown };

/** Observes each finished job's processing time (processedOn → finishedOn) as its stage's duration. */
export function attachStageMetrics(metrics: PipelineMetrics, workers: Partial<Record<PipelineStage, JobSource>>): void {
  for (const [stage, worker] of Object.entries(workers) as [PipelineStage, JobSource][]) {
    const observe = (job: TimedJob | undefined) => {
      if (job?.processedOn && job.finishedOn) metrics.observeStage(stage, Math.max(0, job.finishedOn - job.processedOn) / 1000);
    };
    worker.on("completed", observe);
    worker.on("failed", observe);
  }
}
