import { loadConfig, type Config } from "../config";
import { StartupError } from "../errors/startup-error";
import { createLogger, type Logger } from "../log/logger";
import { checkMemoryServer } from "../memory/create-memory-store";
import { parseCli } from "../process/cli";
import { runProcess } from "../process/fatal";
import { onStopSignals, watchSupervisor, withTimeout } from "../process/supervisor";
import { waitUntilReady } from "../redis/connection";
import { createApp } from "./app";
import { buildAppDeps } from "./build-deps";
import { closeQueues } from "../../queues/open-queues";

export type RunningApi = { port: number; stop(): Promise<void> };

/** Starts the HTTP API; resolves once it listens. A taken port is refused unless LIFELINE_REUSE_PORT is on. */
export async function startApi(config: Config, log: Logger): Promise<RunningApi> {
  const deps = buildAppDeps(config, log);
  const close = async () => {
    await deps.semantic.close();
    await closeQueues(deps.queues);
    deps.redis.disconnect();
  };
  let app: ReturnType<typeof createApp>;
  try {
    await waitUntilReady(deps.redis, config.LIFELINE_REDIS_STARTUP_WAIT_MS);
    app = createApp(deps).listen({
      port: config.PORT,
      hostname: config.HOST,
      reusePort: config.LIFELINE_REUSE_PORT,
      // No limit of Bun's own: its 413 is bare and drops the connection; body-limit.ts answers in JSON naming the limit.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
  } catch (err) {
    await close();
    if ((err as { code?: string }).code === "EADDRINUSE")
      throw new StartupError(
        `port ${config.PORT} on ${config.HOST} is already in use (another Lifeline or another program): stop it, set PORT to a free port, or set LIFELINE_REUSE_PORT=true to share the port on purpose`,
      );
    throw err;
  }
  const port = app.server!.port!;
  log.info({ port }, "api listening");
  // Warm the memory in the background so the first memory request does not wait for the model.
  deps.semantic.open().catch((err: unknown) => log.warn({ err }, "vector memory could not be opened yet; memory routes will retry"));
  return {
    port,
    async stop() {
      // Requests in flight are answered first (Bun's graceful stop).
      await app.stop();
      await close();
    },
  };
}

if (import.meta.main) {
  parseCli({ command: "bun run api", description: "The HTTP API alone (no workers), with the settings of the environment (see README, Configuration)." });
  runProcess("api", async () => {
    const config = loadConfig();
    const log = createLogger(config).child({ process: "api" });
    await checkMemoryServer(config);
    const api = await startApi(config, log);
    const stop = async (why: string) => {
      log.info({ why }, "stopping api");
      if ((await withTimeout(api.stop(), config.LIFELINE_STOP_TIMEOUT_MS)) === "timeout") log.warn("requests still open after LIFELINE_STOP_TIMEOUT_MS; exiting");
      process.exit(0);
    };
    onStopSignals((signal) => void stop(signal));
    watchSupervisor(config.LIFELINE_SUPERVISOR_PID, () => void stop("the process that started it is gone"));
  });
}
