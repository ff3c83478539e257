// `npm start`: the API and the workers of one machine.
import { loadConfig } from "./config";
import { startApi } from "./api/server";
import { createLogger } from "./log/logger";

const config = loadConfig();
const log = createLogger(config);
const api = await startApi(config, log.child({ process: "api" }));

for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, async () => {
    log.info({ signal }, "shutting down");
    await api.stop();
    process.exit(0);
  });
