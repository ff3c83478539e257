// `bun run worker`: workers alone, to scale out on more machines against the same Redis.
import { loadConfig } from "../src/config";
import { exitOnStartupFailure } from "../src/log/exit-on-startup-failure";
import { createLogger } from "../src/log/logger";
import { startWorkers } from "./worker-runtime";

const config = loadConfig();
const log = createLogger(config).child({ process: "worker", pid: process.pid });
// Opening the memory checks its server (version, collections, model): a failure stops this process.
const runtime = await exitOnStartupFailure(log, () => startWorkers(config, log));

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, async () => {
    log.info({ signal }, "stopping workers: finishing jobs in flight");
    await runtime.stop();
    process.exit(0);
  });
