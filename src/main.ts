// `npm start`: the API in this process, and LIFELINE_WORKER_PROCESSES worker processes beside it.
// Stops as a whole: a signal to this process, a worker stopped on purpose, or the process that
// started it gone (SIGKILL included) stop the API and every worker, each finishing what is in flight.
import type { Subprocess } from "bun";
import { join, resolve } from "node:path";
import { loadConfig } from "./config";
import { startApi } from "./api/server";
import { createLogger, type Logger } from "./log/logger";
import { checkMemoryServer } from "./memory/create-memory-store";
import { parseCli } from "./process/cli";
import { runProcess } from "./process/fatal";
import { localApiUrl, removeInstance, schemaSettings, writeInstance } from "./process/instance-file";
import { onStopSignals, watchSupervisor, withTimeout } from "./process/supervisor";

type Supervised = { current(): Subprocess };

/** Restarts a worker that crashes after start-up (with back-off); a worker that cannot start, or stops on purpose, stops everything. */
function superviseWorker(index: number, log: Logger, isStopping: () => boolean, stopAll: (why: string, code: number) => void): Supervised {
  let proc: Subprocess;
  let crashes = 0;
  const launch = () => {
    let isReady = false;
    proc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "queues", "run.ts")], {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, LIFELINE_SUPERVISOR_PID: String(process.pid) },
      ipc(message) {
        if ((message as { type?: string })?.type === "ready") isReady = true;
      },
    });
    proc.exited.then(() => {
      if (isStopping()) return;
      const code = proc.exitCode;
      if (!isReady && code !== 0) return stopAll(`worker process ${index} could not start (exit code ${code ?? proc.signalCode}); see its message above`, code || 1);
      if (code === 0) return stopAll(`worker process ${index} was stopped`, 0);
      const delayMs = Math.min(1_000 * 2 ** crashes++, 30_000);
      log.error({ worker: index, code, signal: proc.signalCode, delayMs }, "worker process died; restarting it");
      setTimeout(() => isStopping() || launch(), delayMs);
    });
  };
  launch();
  return { current: () => proc };
}

async function stopWorkers(workers: Supervised[], timeoutMs: number, log: Logger): Promise<void> {
  for (const w of workers) w.current().kill("SIGTERM");
  const exited = Promise.all(workers.map((w) => w.current().exited));
  // Each worker bounds its own stop by LIFELINE_STOP_TIMEOUT_MS; this is the backstop.
  if ((await withTimeout(exited, timeoutMs + 2_000)) === "timeout") {
    log.warn("a worker process did not stop in time; killing it");
    for (const w of workers) w.current().kill("SIGKILL");
  }
}

parseCli({ command: "bun src/main.ts", description: "The API and LIFELINE_WORKER_PROCESSES worker processes (what `npm start` runs after starting Redis)." });

runProcess("lifeline", async () => {
  const config = loadConfig();
  const log = createLogger(config);
  const dataDir = resolve(config.LIFELINE_DATA_DIR);
  // Before any worker starts: a memory server Lifeline cannot keep correct stops everything.
  await checkMemoryServer(config);
  const api = await startApi(config, log.child({ process: "api" }));
  let stopping = false;
  const stopAll = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, "stopping: the api answers what is in flight, workers finish their jobs");
    await Promise.all([withTimeout(api.stop(), config.LIFELINE_STOP_TIMEOUT_MS), stopWorkers(workers, config.LIFELINE_STOP_TIMEOUT_MS, log)]);
    removeInstance(dataDir);
    log.info("stopped");
    process.exit(code);
  };
  const workers = Array.from({ length: config.LIFELINE_WORKER_PROCESSES }, (_, i) => superviseWorker(i, log, () => stopping, stopAll));
  onStopSignals((signal) => void stopAll(`signal ${signal}`, 0));
  watchSupervisor(config.LIFELINE_SUPERVISOR_PID, () => void stopAll("the process that started it is gone", 0));
  // What CLIs need to find this instance (see src/process/instance-file.ts).
  writeInstance(dataDir, { pid: process.pid, apiUrl: localApiUrl(config, api.port), startedAt: new Date().toISOString(), settings: schemaSettings(process.env) });
});
