import { loadConfig, type Config } from "../config";
import { exitOnStartupFailure } from "../log/exit-on-startup-failure";
import { createLogger, type Logger } from "../log/logger";
import { checkMemoryServer } from "../memory/create-memory-store";
import { waitUntilReady } from "../redis/connection";
import { createApp } from "./app";
import { buildAppDeps } from "./build-deps";
import { closeQueues } from "../../queues/open-queues";

export type RunningApi = { port: number; stop(): Promise<void> };

/** Starts the HTTP API; resolves once it listens. */
export async function startApi(config: Config, log: Logger): Promise<RunningApi> {
  const deps = buildAppDeps(config, log);
  await waitUntilReady(deps.redis, 30_000);
  const app = createApp(deps).listen({ port: config.PORT, hostname: config.HOST, maxRequestBodySize: config.LIFELINE_MAX_BODY_BYTES * 4 });
  const port = app.server!.port!;
  log.info({ port }, "api listening");
  // Warm the memory in the background so the first memory request does not wait for the model.
  deps.semantic.open().catch((err: unknown) => log.warn({ err }, "vector memory could not be opened yet; memory routes will retry"));
  return {
    port,
    async stop() {
      await app.stop();
      await deps.semantic.close();
      await closeQueues(deps.queues);
      deps.redis.disconnect();
    },
  };
}

if (import.meta.main) {
  const config = loadConfig();
  const log = createLogger(config).child({ process: "api" });
  await exitOnStartupFailure(log, () => checkMemoryServer(config));
  const api = await exitOnStartupFailure(log, () => startApi(config, log));
  for (const signal of ["SIGTERM", "SIGINT"] as const)
    process.once(signal, async () => {
      log.info({ signal }, "stopping api");
      await api.stop();
      process.exit(0);
    });
}
