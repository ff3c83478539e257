// `bun run worker`: workers alone, to scale out on more machines against the same Redis.
import { loadConfig } from "../src/config";
import { createLogger } from "../src/log/logger";
import { startWorkers } from "./worker-runtime";

const config = loadConfig();
const log = createLogger(config).child({ process: "worker", pid: process.pid });
const runtime = await startWorkers(config, log);

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, async () => {
    log.info({ signal }, "stopping workers: finishing jobs in flight");
    await runtime.stop();
    process.exit(0);
  });
