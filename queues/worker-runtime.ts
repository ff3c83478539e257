import { hostname } from "node:os";
import { Queue, Worker } from "bullmq";
import { defaultVocabulary } from "../pipelines/event-names";
import type { Config } from "../src/config";
import { createEmbedder } from "../src/embeddings/create-embedder";
import type { Embedder } from "../src/embeddings/embedder";
import { createMemoryStore } from "../src/memory/create-memory-store";
import type { MemoryStore } from "../src/memory/memory-store";
import type { Logger } from "../src/log/logger";
import { createIdentities } from "../src/profiles/identities";
import { createSuppression } from "../src/profiles/suppression";
import { createProfileStore } from "../src/profiles/profile-store";
import { loadStageRules } from "../src/profiles/stage-rules";
import { bullmqErrorListener, createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";
import { attachStageMetrics, createPipelineMetrics } from "../src/metrics/pipeline-metrics";
import { recordWorkerStart, upstreamHealthReporter, type UpstreamHealthReporter } from "../src/metrics/health-records";
import { processClean, type AppliedListener } from "./clean.worker";
import type { CleanJob } from "./clean.queue";
import { isFinalFailure, recordDeadLetter } from "./dead-letter";
import { enqueueEmbeds, type EmbedJob } from "./embed.queue";
import { createEmbedStage } from "./embed.worker";
import type { InferenceJob } from "./inference.queue";
import { createRescorer } from "./rescore";
import { createRefitWatcher } from "./refit-watcher";
import { createLiveItemCounts } from "../src/inference/live-item-counts";
import { processInference } from "./inference.worker";
import { buildInsights } from "../src/inference/build-insights";
import { queueNames, queueOptions, type QueueName } from "./names";
import { keyedMutex } from "./keyed-mutex";
import { forBullmq, upstreamPauseMs } from "./retry-policy";
import { createStreamBridge } from "./stream-bridge";

export type WorkerRuntime = Awaited<ReturnType<typeof startWorkers>>;

/** A call's final outcome goes to /ready: "ok" clears a failure, "timeout"/"error" records it (retries are not final). */
function reportHealth(health: UpstreamHealthReporter, outcome: string, failure: string | undefined): void {
  if (outcome === "ok") health.ok();
  else if (outcome === "timeout" || outcome === "error") health.failed(failure ?? outcome);
}

/** Shared instead of opened by the runtime (tests share one store with an in-process API). */
export type WorkerResources = { embedder?: Embedder; memory?: MemoryStore };

/** One worker process: the stream bridge and the queue workers, sharing one Redis connection. */
export async function startWorkers(config: Config, log: Logger, resources: WorkerResources = {}) {
  const redis = createRedis(config, "worker", log);
  await waitUntilReady(redis, config.LIFELINE_REDIS_STARTUP_WAIT_MS);
  const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
  const rules = loadStageRules(config);
  const profiles = createProfileStore(redis, keys, rules, { cacheBytes: config.LIFELINE_PROFILE_CACHE_MB * 1_000_000 });
  const pipelineMetrics = createPipelineMetrics(redis, config.LIFELINE_KEY_PREFIX);
  const embeddingHealth = upstreamHealthReporter(redis, keys, "embeddings");
  const llmHealth = upstreamHealthReporter(redis, keys, "llm");
  const embedder =
    resources.embedder ??
    (await createEmbedder(config, {
      onOutcome: (o, failure) => {
        pipelineMetrics.countCall("embedding", o);
        reportHealth(embeddingHealth, o, failure);
      },
    }));
  const memory = resources.memory ?? (await createMemoryStore(config, embedder, { redis }));
  if (!resources.memory) await memory.init();
  // Stitching reaches the vector memory: the visitor's points move to the customer.
  const suppression = createSuppression(redis, keys, config);
  const identities = createIdentities(redis, keys, profiles, [(from, to) => memory.reassignCustomer(from, to)], suppression);
  const onApplied: AppliedListener[] = [];
  // Stage durations and upstream call outcomes, summed in Redis for the API's /metrics.

  const queue = (name: QueueName) => {
    const q = new Queue(name, queueOptions(config, name, redis));
    q.on("error", bullmqErrorListener(log, `queue ${name}`));
    return q;
  };
  const cleanQueue = queue(queueNames.clean) as Queue<CleanJob>;
  const deadLetters = queue(queueNames.deadLetter);
  const embedQueue = queue(queueNames.embed) as Queue<EmbedJob>;
  onApplied.push((batch) => enqueueEmbeds(embedQueue, batch, config.LIFELINE_EMBED_BATCH_SIZE));

  const inferenceQueue = queue(queueNames.inference) as Queue<InferenceJob>;
  // Popularity and co-purchase counts move with every purchase, between refits.
  const live = createLiveItemCounts(redis, keys);
  onApplied.push((batch) => live.record(batch.map((b) => ({ profile: b.profile, fresh: b.applied }))));
  const { insights, refit, slots } = buildInsights(config, {
    redis,
    keys,
    profiles,
    identities,
    memory,
    embedder,
    live,
    log: log.child({ queue: queueNames.inference }),
    onStrategyOutcome: (o, failure) => {
      if (o !== "breaker_open") pipelineMetrics.countCall("llm", o);
      reportHealth(llmHealth, o, failure);
    },
  });
  // New events (the profile write marked the insight stale) schedule a debounced re-score.
  // Backed up: more jobs waiting than a stage's workers take at once. Re-scores and refits wait then.
  const upstream = [
    { queue: cleanQueue, backlog: Math.max(config.LIFELINE_WORKER_CONCURRENCY, config.LIFELINE_STREAM_PARTITIONS) },
    { queue: embedQueue, backlog: Math.max(config.LIFELINE_WORKER_CONCURRENCY, config.LIFELINE_EMBED_BATCH_SIZE) },
  ];
  const rescorer = createRescorer(redis, keys, inferenceQueue, log.child({ component: "rescore" }), {
    debounceMs: config.LIFELINE_RESCORE_DEBOUNCE_MS,
    maxWaiting: 4 * config.LIFELINE_INFERENCE_CONCURRENCY,
    upstream,
  });
  onApplied.push((batch) => rescorer.schedule(batch.map((b) => b.customerId)));
  // Refits come from the watcher now (it also covers the interval); drop the scheduler older versions kept.
  await inferenceQueue.removeJobScheduler("refit");
  const refitWatcher = createRefitWatcher({ redis, keys, queue: inferenceQueue, slots, config, log: log.child({ component: "refit-watcher" }), upstream });

  const workerOptions = (name: QueueName) => ({
    connection: redis,
    prefix: queueOptions(config, name, redis).prefix,
    concurrency:
      name === queueNames.clean
        ? Math.max(config.LIFELINE_WORKER_CONCURRENCY, config.LIFELINE_STREAM_PARTITIONS)
        : // Embed jobs wait in a shared batch; enough of them must be active at once to fill it.
          name === queueNames.embed
          ? Math.max(config.LIFELINE_WORKER_CONCURRENCY, config.LIFELINE_EMBED_BATCH_SIZE)
          : name === queueNames.inference
            ? config.LIFELINE_INFERENCE_CONCURRENCY
            : config.LIFELINE_WORKER_CONCURRENCY,
    stalledInterval: config.LIFELINE_STALLED_INTERVAL_MS,
    maxStalledCount: config.LIFELINE_JOB_MAX_STALLS,
    lockDuration: Math.max(config.LIFELINE_STALLED_INTERVAL_MS, 5_000),
  });

  // Jobs of one partition carry the same customers: run them one at a time in this process,
  // so they do not fight over the same profiles (compare-and-set retries), others side by side.
  const byPartition = keyedMutex<number>();
  const cleanWorker = new Worker<CleanJob>(
    queueNames.clean,
    async (job) => {
      const jobLog = log.child({ queue: queueNames.clean, jobId: job.id });
      try {
        return await byPartition(job.data.partition, () => processClean(job, {
          redis,
          keys,
          suppression,
          cleanQueue,
          profiles,
          identities,
          vocabulary: defaultVocabulary,
          rules,
          log: jobLog,
          onApplied,
        }));
      } catch (err) {
        throw forBullmq(err);
      }
    },
    workerOptions(queueNames.clean),
  );

  const embedStage = createEmbedStage({
    identities,
    suppression,
    embedder,
    memory,
    log: log.child({ queue: queueNames.embed }),
    batchSize: config.LIFELINE_EMBED_BATCH_SIZE,
    maxWaitMs: config.LIFELINE_EMBED_MAX_WAIT_MS,
    timeUpsert: (fn) => pipelineMetrics.timeStage("upsert", fn),
  });
  // While the embedding provider is down the whole embed queue waits (every worker, no attempt
  // spent), for as long as the provider's breaker says, and resumes by itself.
  const embedWorker = new Worker<EmbedJob>(
    queueNames.embed,
    async (job) => {
      try {
        return await embedStage.process(job);
      } catch (err) {
        const pauseMs = upstreamPauseMs(err);
        if (pauseMs === undefined) throw forBullmq(err);
        await embedQueue.rateLimit(pauseMs);
        throw Worker.RateLimitError();
      }
    },
    // BullMQ honours a queue's manual rate limit only in a worker with a limiter; this one never limits by itself.
    { ...workerOptions(queueNames.embed), limiter: { max: 1_000_000_000, duration: 1_000 } },
  );

  const inferenceWorker = new Worker<InferenceJob>(
    queueNames.inference,
    async (job) => {
      try {
        return await processInference(job, { insights, refit, suppression });
      } catch (err) {
        throw forBullmq(err);
      }
    },
    workerOptions(queueNames.inference),
  );

  for (const [name, worker] of [[queueNames.clean, cleanWorker], [queueNames.embed, embedWorker], [queueNames.inference, inferenceWorker]] as const) {
    worker.on("error", bullmqErrorListener(log, `worker ${name}`));
    worker.on("failed", (job, err) => {
      if (!job) return;
      const final = isFinalFailure(job, err);
      log.warn({ queue: name, jobId: job.id, err, attemptsMade: job.attemptsMade, final }, final ? "job dead-lettered" : "job failed; will retry");
      if (final) recordDeadLetter(deadLetters, name, job, err, suppression).catch((e) => log.error({ err: e }, "could not record dead letter"));
    });
  }

  const bridge = createStreamBridge(redis, keys, cleanQueue, log.child({ component: "stream-bridge" }), {
    consumer: `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
    readCount: config.LIFELINE_BRIDGE_READ_COUNT,
    jobMaxEvents: config.LIFELINE_JOB_MAX_EVENTS,
    claimIdleMs: config.LIFELINE_CLAIM_IDLE_MS,
    lingerMs: config.LIFELINE_BRIDGE_LINGER_MS,
  });
  attachStageMetrics(pipelineMetrics, { clean: cleanWorker, embed: embedWorker, inference: inferenceWorker });
  await bridge.start();
  rescorer.start();
  if (config.LIFELINE_REFIT_AUTO) refitWatcher.start();
  await recordWorkerStart(redis, keys, `${hostname()}-${process.pid}-${Date.now()}`);
  log.info({ partitions: keys.partitions }, "workers started");

  return {
    redis,
    keys,
    profiles,
    identities,
    suppression,
    onApplied,
    embedder,
    memory,
    insights,
    refit,
    slots,
    refitWatcher,
    queues: { clean: cleanQueue, embed: embedQueue, inference: inferenceQueue, deadLetter: deadLetters },
    /** Graceful: stop reading streams, let active jobs finish, then disconnect. */
    async stop(): Promise<void> {
      await bridge.stop();
      await rescorer.stop();
      refitWatcher.stop();
      await cleanWorker.close();
      // Jobs waiting in a part-filled batch must finish for close() to return.
      const closing = embedWorker.close();
      await embedStage.flush();
      await closing;
      await inferenceWorker.close();
      await Promise.all([cleanQueue.close(), embedQueue.close(), inferenceQueue.close(), deadLetters.close()]);
      if (!resources.memory) await memory.close();
      await pipelineMetrics.stop();
      redis.disconnect();
    },
  };
}
