// `bun run worker`: workers alone, to scale out on more machines against the same Redis.
import { CONFIG_ERROR_EXIT_CODE, ConfigError, loadConfig, type Config } from "../src/config";
import { isSettingsProblem } from "../src/log/exit-on-startup-failure";
import { createLogger } from "../src/log/logger";
import { recordWorkerStartFailure } from "../src/metrics/health-records";
import { createRedis, waitUntilReady } from "../src/redis/connection";
import { keyspace } from "../src/redis/keys";
import { startWorkers } from "./worker-runtime";

/** Settings that cannot work: one clear line on stderr and the config exit code, so a supervisor stops instead of restarting. */
function exitOnSettings(err: Error): never {
  process.stderr.write(`lifeline worker cannot start: ${err.message}\n`);
  process.exit(CONFIG_ERROR_EXIT_CODE);
}

/** Best effort: /ready names a worker that cannot start (when Redis can be reached at all). */
async function reportStartFailure(config: Config, err: Error): Promise<void> {
  const redis = createRedis(config, "api");
  try {
    await waitUntilReady(redis, 2_000);
    await recordWorkerStartFailure(redis, keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS), err.message);
  } catch {
    // Redis itself is the problem; the worker's own log says so.
  } finally {
    redis.disconnect();
  }
}

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) exitOnSettings(err);
  throw err;
}
const log = createLogger(config).child({ process: "worker", pid: process.pid });
// Opening the memory checks its server (version, collections, model): settings it cannot work with stop this process.
const runtime = await startWorkers(config, log).catch(async (err: Error) => {
  await reportStartFailure(config, err);
  if (isSettingsProblem(err)) exitOnSettings(err);
  throw err;
});

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, async () => {
    log.info({ signal }, "stopping workers: finishing jobs in flight");
    await runtime.stop();
    process.exit(0);
  });
