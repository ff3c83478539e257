import { hostname } from "node:os";
import { Queue, Worker } from "bullmq";
import { defaultVocabulary } from "../pipelines/event-names";
import type { Config } from "../src/config";
import type { Logger } from "../src/log/logger";
import { createIdentities } from "../src/profiles/identities";
import { createProfileStore } from "../src/profiles/profile-store";
import { loadStageRules } from "../src/profiles/stage-rules";
import { createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";
import { processClean, type AppliedListener } from "./clean.worker";
import type { CleanJob } from "./clean.queue";
import { isFinalFailure, recordDeadLetter } from "./dead-letter";
import { queueNames, queueOptions, type QueueName } from "./names";
import { keyedMutex } from "./keyed-mutex";
import { forBullmq } from "./retry-policy";
import { createStreamBridge } from "./stream-bridge";

export type WorkerRuntime = Awaited<ReturnType<typeof startWorkers>>;

/** One worker process: the stream bridge and the queue workers, sharing one Redis connection. */
export async function startWorkers(config: Config, log: Logger) {
  const redis = createRedis(config, "worker");
  await waitUntilReady(redis, 30_000);
  const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
  const rules = loadStageRules(config);
  const profiles = createProfileStore(redis, keys, rules);
  const identities = createIdentities(redis, keys, profiles);
  const onApplied: AppliedListener[] = [];

  const queue = (name: QueueName) => new Queue(name, queueOptions(config, name, redis));
  const cleanQueue = queue(queueNames.clean) as Queue<CleanJob>;
  const deadLetters = queue(queueNames.deadLetter);

  const workerOptions = (name: QueueName) => ({
    connection: redis,
    prefix: queueOptions(config, name, redis).prefix,
    concurrency: name === queueNames.clean ? Math.max(config.LIFELINE_WORKER_CONCURRENCY, config.LIFELINE_STREAM_PARTITIONS) : config.LIFELINE_WORKER_CONCURRENCY,
    stalledInterval: config.LIFELINE_STALLED_INTERVAL_MS,
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
          droppedKey: keys.dropped(),
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

  for (const [name, worker] of [[queueNames.clean, cleanWorker]] as const)
    worker.on("failed", (job, err) => {
      if (!job) return;
      const final = isFinalFailure(job, err);
      log.warn({ queue: name, jobId: job.id, err, attemptsMade: job.attemptsMade, final }, final ? "job dead-lettered" : "job failed; will retry");
      if (final) recordDeadLetter(deadLetters, name, job, err).catch((e) => log.error({ err: e }, "could not record dead letter"));
    });

  const bridge = createStreamBridge(redis, keys, cleanQueue, log.child({ component: "stream-bridge" }), {
    consumer: `${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 8)}`,
    readCount: config.LIFELINE_BRIDGE_READ_COUNT,
    jobMaxEvents: config.LIFELINE_JOB_MAX_EVENTS,
    claimIdleMs: config.LIFELINE_CLAIM_IDLE_MS,
  });
  await bridge.start();
  log.info({ partitions: keys.partitions }, "workers started");

  return {
    redis,
    keys,
    profiles,
    identities,
    onApplied,
    queues: { clean: cleanQueue, deadLetter: deadLetters },
    /** Graceful: stop reading streams, let active jobs finish, then disconnect. */
    async stop(): Promise<void> {
      await bridge.stop();
      await cleanWorker.close();
      await Promise.all([cleanQueue.close(), deadLetters.close()]);
      redis.disconnect();
    },
  };
}
