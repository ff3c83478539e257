/**
 * Runs one data set through the real system, in this process: the HTTP API, the workers
 * (stream bridge → clean → profile, embed → vector memory, inference), the import over HTTP;
 * then, once the pipeline has drained, a refit and a score of every customer as of the cutoff.
 */
import { join, resolve } from "node:path";
import { startApi } from "../api/server";
import { loadConfig, type Config } from "../config";
import { createApiClient } from "../import/api-client";
import { runImport, type ImportSummary } from "../import/import-run";
import { redisLagProbe } from "../import/lag-probe";
import type { ImportEvent, Mapping } from "../import/mapping";
import { churnArtifactsSchema, type ChurnArtifacts } from "../inference/churn-artifacts";
import type { RecommenderMeta } from "../inference/model-slots";
import type { Insight } from "../inference/insights";
import type { Logger } from "../log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";

export type SystemRunOptions = {
  /** the private instance's settings (evalConfig) */
  config: Config;
  mapping: Mapping;
  files: string[];
  cutoffMs: number;
  /** The events to import (those before the cutoff, of the customers evaluated). */
  keep: (event: ImportEvent) => boolean;
  /** Lifeline customer ids to score */
  customerIds: readonly string[];
  log: Logger;
  /** The system's own logs at debug level instead of errors only. */
  isVerbose?: boolean;
};

export type SystemRun = {
  insights: Map<string, Insight>;
  missing: string[];
  import: ImportSummary;
  profiles: number;
  model: { version: string; learned: boolean; trainedAt: string; note?: string; customers: number };
  /** What the refit at the cutoff fitted (the eval draws the predictions' curves from it). */
  artifacts: ChurnArtifacts;
  /** What the refit recorded of the recommender: its per-tenant choice, re-buy decision. */
  recommender?: RecommenderMeta;
  seconds: { import: number; drain: number; refit: number; score: number; total: number };
};

// Far enough never to fire during a run, short enough for a timer (setTimeout caps at 2^31 − 1 ms).
const NEVER_MS = "1728000000";
const PASSED_THROUGH = ["EMBEDDINGS_PROVIDER", "OPENAI_BASE_URL", "OPENAI_API_KEY", "LIFELINE_EMBEDDING_MODEL", "LIFELINE_EMBEDDING_DIMENSIONS", "LIFELINE_MODEL_CACHE_DIR", "LIFELINE_LOCAL_VOCAB_SIZE"];

/** Settings of a private instance: own key prefix and data folder; no re-scoring or scheduled refit at wall-clock "now". */
export function evalConfig(redisUrl: string, horizonDays: number, dataDir: string, env: Record<string, string | undefined> = {}): Config {
  const key = (role: string) => `${role}_eval_${crypto.randomUUID().replaceAll("-", "")}`;
  const passed = Object.fromEntries(PASSED_THROUGH.map((k) => [k, env[k]]).filter(([, v]) => v !== undefined));
  // One converted copy of the local embedding model across runs (the default data folder's).
  passed.LIFELINE_MODEL_CACHE_DIR ??= resolve("data");
  return loadConfig({
    ...passed,
    REDIS_URL: redisUrl,
    PORT: "0",
    HOST: "127.0.0.1",
    LIFELINE_KEY_PREFIX: `eval-${crypto.randomUUID().slice(0, 8)}`,
    LIFELINE_DATA_DIR: dataDir,
    LIFELINE_WRITE_KEYS: key("wk"),
    LIFELINE_READ_KEYS: key("rk"),
    LIFELINE_ADMIN_KEYS: key("ak"),
    LIFELINE_CHURN_HORIZON_DAYS: String(horizonDays),
    LIFELINE_RESCORE_DEBOUNCE_MS: NEVER_MS,
    LIFELINE_REFIT_INTERVAL_MS: NEVER_MS,
    // The eval refits once, as of the cutoff, after the import; automatic refits would only cost time.
    LIFELINE_REFIT_AUTO: "false",
    // Every score reads the model version, so the refit at the cutoff is the model that scores.
    LIFELINE_MODEL_REFRESH_MS: "1",
    LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "0",
    // API, importer and workers share one thread here; a long embed batch must not cost a job its lock.
    LIFELINE_STALLED_INTERVAL_MS: "120000",
    LIFELINE_RECOMMENDATIONS: "10",
    // Scoring a whole data set in one bulk request's wait.
    LIFELINE_SIGNAL_WAIT_MS: "600000",
    LOG_LEVEL: "error",
  });
}

export async function runThroughSystem(o: SystemRunOptions): Promise<SystemRun> {
  const started = performance.now();
  const { config, mapping } = o;
  // The system's own per-customer warnings (e.g. "strategy from fallback playbook") would drown the eval's log.
  const quiet = o.log.child({}, { level: o.isVerbose ? "debug" : "error" });
  const api = await startApi(config, quiet.child({ process: "api" }));
  let workers: WorkerRuntime | undefined;
  const lag = redisLagProbe(config.REDIS_URL, config.LIFELINE_KEY_PREFIX, 2_000);
  try {
    workers = await startWorkers(config, quiet.child({ process: "worker" }));
    const t0 = performance.now();
    const summary = await runImport({
      mapping,
      files: o.files,
      api: createApiClient({ url: `http://127.0.0.1:${api.port}`, key: config.LIFELINE_WRITE_KEYS[0]! }),
      rejectsPath: join(config.LIFELINE_DATA_DIR, "import", "rejects.jsonl"),
      checkpointPath: join(config.LIFELINE_DATA_DIR, "import", "checkpoint.json"),
      untilMs: o.cutoffMs,
      keep: o.keep,
      lag,
      showProgress: false,
    });
    o.log.info({ ...summary }, "import done");
    const t1 = performance.now();
    const profiles = await waitForDrain(workers, lag.backlog, o.log);
    const t2 = performance.now();
    const { artifacts, ...model } = await refitAsOf(workers, o.cutoffMs);
    const { recommender } = await workers.slots.meta();
    o.log.info({ ...model }, "refitted as of the cutoff");
    const t3 = performance.now();
    const { insights, missing } = await scoreThroughApi({
      baseUrl: `http://127.0.0.1:${api.port}`,
      readKey: config.LIFELINE_READ_KEYS[0]!,
      ids: o.customerIds,
      asOfMs: o.cutoffMs,
      bulk: config.LIFELINE_SIGNAL_MAX_BULK,
    });
    const t4 = performance.now();
    const s = (a: number, b: number) => Math.round((b - a) / 100) / 10;
    return {
      insights,
      missing,
      import: summary,
      profiles,
      model,
      artifacts,
      ...(recommender ? { recommender } : {}),
      seconds: { import: s(t0, t1), drain: s(t1, t2), refit: s(t2, t3), score: s(t3, t4), total: s(started, t4) },
    };
  } finally {
    lag.close();
    await workers?.stop();
    await api.stop();
  }
}

/**
 * Drained: no stream entry unread or unacknowledged, no clean or embed job left, and the number
 * of profiles unchanged over a second. Returns that number.
 */
async function waitForDrain(workers: WorkerRuntime, backlog: () => Promise<number>, log: Logger, timeoutMs = 25 * 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let lastCount = -1;
  let lastReport = 0;
  while (Date.now() < deadline) {
    const [entries, clean, embed] = await Promise.all([
      backlog(),
      workers.queues.clean.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children"),
      workers.queues.embed.getJobCounts("waiting", "active", "delayed", "prioritized", "waiting-children"),
    ]);
    const jobs = Object.values(clean).reduce((a, b) => a + b, 0) + Object.values(embed).reduce((a, b) => a + b, 0);
    const count = await countProfiles(workers);
    if (entries === 0 && jobs === 0 && count === lastCount) return count;
    if (Date.now() - lastReport > 10_000) {
      log.info({ streamBacklog: entries, jobs, profiles: count }, "waiting for the pipeline to drain");
      lastReport = Date.now();
    }
    lastCount = count;
    await Bun.sleep(1_000);
  }
  throw new Error(`the pipeline did not drain within ${timeoutMs / 60_000} min`);
}

async function countProfiles(workers: WorkerRuntime): Promise<number> {
  let n = 0;
  for await (const _ of workers.profiles.customerIds()) n++;
  return n;
}

/** Refit at the cutoff once no inference job (a scheduled refit at wall-clock time) is running, and check it took. */
async function refitAsOf(workers: WorkerRuntime, cutoffMs: number): Promise<SystemRun["model"] & { artifacts: ChurnArtifacts }> {
  for (;;) {
    const counts = await workers.queues.inference.getJobCounts("waiting", "active", "prioritized");
    if (Object.values(counts).every((n) => n === 0)) break;
    await Bun.sleep(200);
  }
  await workers.refit({ asOfMs: cutoffMs, reason: "eval: as of the cutoff" });
  const json = await workers.redis.get(workers.keys.churnArtifacts());
  const artifacts = churnArtifactsSchema.parse(JSON.parse(json ?? "null"));
  if (Date.parse(artifacts.trainedAt) !== cutoffMs)
    throw new Error(`the churn model in Redis was fitted at ${artifacts.trainedAt}, not at the cutoff ${new Date(cutoffMs).toISOString()}`);
  return { version: artifacts.version, learned: Boolean(artifacts.model), trainedAt: artifacts.trainedAt, customers: artifacts.customers, ...(artifacts.note ? { note: artifacts.note } : {}), artifacts };
}

/**
 * Scores customers as of an instant through the API, exactly as a user would:
 * POST /signals/churn?wait=true with `asOf`, in bulk requests; jobs still running when a request's
 * wait ends are followed at GET /signals/churn/:jobId. Unknown customers come back in `missing`.
 */
export async function scoreThroughApi(o: { baseUrl: string; readKey: string; ids: readonly string[]; asOfMs: number; bulk: number }) {
  const headers = { authorization: `Bearer ${o.readKey}`, "content-type": "application/json" };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${o.baseUrl}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const json = (await res.json()) as any;
    if (res.status >= 400 && res.status !== 404) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return { status: res.status, json };
  };
  const insights = new Map<string, Insight>();
  const missing: string[] = [];
  const asOf = new Date(o.asOfMs).toISOString();
  for (let i = 0; i < o.ids.length; i += o.bulk) {
    const chunk = o.ids.slice(i, i + o.bulk);
    const { status, json } = await call("POST", "/signals/churn?wait=true", { customerIds: chunk, asOf });
    if (status === 404) {
      missing.push(...chunk);
      continue;
    }
    for (const nf of json.notFound as { customerId: string }[]) missing.push(nf.customerId);
    for (const result of json.results as { jobId: string; customerId: string; state: string; insight?: Insight; error?: string }[]) {
      let r = result;
      while (r.state !== "completed" && r.state !== "failed") {
        await Bun.sleep(200);
        r = (await call("GET", `/signals/churn/${result.jobId}`)).json;
      }
      if (r.state === "failed" || !r.insight) throw new Error(`scoring ${result.customerId} failed: ${r.error}`);
      insights.set(r.insight.customerId, r.insight);
    }
  }
  return { insights, missing };
}
