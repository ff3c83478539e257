// `npm start`: the API in this process, and LIFELINE_WORKER_PROCESSES worker processes beside it.
import type { Subprocess } from "bun";
import { join } from "node:path";
import { CONFIG_ERROR_EXIT_CODE, loadConfig } from "./config";
import { startApi, type RunningApi } from "./api/server";
import { exitOnStartupFailure } from "./log/exit-on-startup-failure";
import { createLogger } from "./log/logger";
import { checkMemoryServer } from "./memory/create-memory-store";

const config = loadConfig();
const log = createLogger(config);
let stopping = false;

function superviseWorker(index: number): { current: () => Subprocess } {
  let proc: Subprocess;
  const launch = () => {
    proc = Bun.spawn([process.execPath, join(import.meta.dir, "..", "queues", "run.ts")], { stdout: "inherit", stderr: "inherit", env: process.env });
    proc.exited.then((code) => {
      if (stopping) return;
      // Restarting cannot fix a setting: stop everything, with the worker's message just above.
      if (code === CONFIG_ERROR_EXIT_CODE) {
        log.fatal({ worker: index, code }, "a worker cannot start with these settings (its message is above); stopping");
        void shutdown(CONFIG_ERROR_EXIT_CODE);
        return;
      }
      log.error({ worker: index, code }, "worker process exited; restarting in 1 s");
      setTimeout(launch, 1_000);
    });
  };
  launch();
  return { current: () => proc };
}

// Before any worker starts: a memory server Lifeline cannot keep correct stops everything.
await exitOnStartupFailure(log, () => checkMemoryServer(config));
const workers = Array.from({ length: config.LIFELINE_WORKER_PROCESSES }, (_, i) => superviseWorker(i));
// Assigned once listening; a worker may stop everything before that.
let api: RunningApi | undefined;
api = await startApi(config, log.child({ process: "api" }));

async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await api?.stop();
  await Promise.all(workers.map(async (w) => (w.current().kill("SIGTERM"), await w.current().exited)));
  process.exit(exitCode);
}

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    log.info({ signal }, "shutting down: api, then workers (they finish jobs in flight)");
    void shutdown(0);
  });
