// `bun run worker`: workers alone, to scale out on more machines against the same Redis.
import { loadConfig } from "../src/config";
import { createLogger } from "../src/log/logger";
import { parseCli } from "../src/process/cli";
import { runProcess } from "../src/process/fatal";
import { onStopSignals, watchSupervisor, withTimeout } from "../src/process/supervisor";
import { startWorkers, type WorkerRuntime } from "./worker-runtime";

parseCli({
  command: "bun run worker",
  description: "Worker processes alone (stream bridge, clean, embed and inference workers), to scale out against the same Redis; settings from the environment.",
});

runProcess("worker", async () => {
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

  runtime = await startWorkers(config, log);
  // Tells `npm start` (over IPC, when it started this process) that start-up is over.
  process.send?.({ type: "ready" });
});
