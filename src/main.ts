// `npm start`: the API in this process, and LIFELINE_WORKER_PROCESSES worker processes beside it.
import type { Subprocess } from "bun";
import { join } from "node:path";
import { loadConfig } from "./config";
import { startApi } from "./api/server";
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
const api = await startApi(config, log.child({ process: "api" }));

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, async () => {
    stopping = true;
    log.info({ signal }, "shutting down: api, then workers (they finish jobs in flight)");
    await api.stop();
    await Promise.all(workers.map(async (w) => (w.current().kill("SIGTERM"), await w.current().exited)));
    process.exit(0);
  });
