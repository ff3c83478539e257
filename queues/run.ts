// `bun run worker`: workers alone, to scale out on more machines against the same Redis.
import { loadConfig, type Config } from "../src/config";
import { createLogger } from "../src/log/logger";
import { recordWorkerStartFailure } from "../src/metrics/health-records";
import { parseCli } from "../src/process/cli";
import { runProcess } from "../src/process/fatal";
import { onStopSignals, watchSupervisor, withTimeout } from "../src/process/supervisor";
import { createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";
import { startWorkers, type WorkerRuntime } from "./worker-runtime";

parseCli({
  command: "bun run worker",
  description: "Worker processes alone (stream bridge, clean, embed and inference workers), to scale out against the same Redis; settings from the environment.",
});

/** Best effort: /ready names a worker that cannot start (when Redis can be reached at all). */
async function reportStartFailure(config: Config, err: Error): Promise<void> {
  const redis = createRedis(config, "api");
  try {
    await waitUntilReady(redis, 2_000);
    await recordWorkerStartFailure(redis, keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS), err.message);
  } catch {
    // Redis itself is the problem; the worker's own message says so.
  } finally {
    redis.disconnect();
  }
}

runProcess("lifeline worker", async () => {
  const config = loadConfig();
  const log = createLogger(config).child({ process: "worker" });
  let runtime: WorkerRuntime | undefined;

  const stop = async (why: string) => {
    // Stopped while starting: nothing is in flight yet.
    if (!runtime) process.exit(0);
    log.info({ why }, "stopping workers: finishing jobs in flight");
    // Jobs still running then are retried by another worker (BullMQ's stalled-job check).
    if ((await withTimeout(runtime.stop(), config.LIFELINE_STOP_TIMEOUT_MS)) === "timeout")
      log.warn({ timeoutMs: config.LIFELINE_STOP_TIMEOUT_MS }, "jobs still in flight after LIFELINE_STOP_TIMEOUT_MS; exiting, they will be retried");
    process.exit(0);
  };
  onStopSignals((signal) => void stop(signal));
  watchSupervisor(config.LIFELINE_SUPERVISOR_PID, () => void stop("the process that started it is gone"));

  // Opening the memory checks its server (version, collections, model): what it cannot work with ends this process.
  runtime = await startWorkers(config, log).catch(async (err: Error) => {
    await reportStartFailure(config, err);
    throw err;
  });
  // Tells `npm start` (over IPC, when it started this process) that start-up is over.
  process.send?.({ type: "ready" });
});
