import { Elysia } from "elysia";
import { httpStatus, LifelineError } from "../errors";
import type { AppDeps } from "./deps";
import { requestRateLimit } from "./rate-limit-hook";
import { requestIdOf, requestLog } from "./request-log";
import { adminRoutes } from "./routes/admin";
import { modelRoutes } from "./routes/models";
import { docsRoutes } from "./routes/docs";
import { opsRoutes } from "./routes/ops";
import { clientRoutes } from "./routes/clients";
import { signalRoutes } from "./routes/signals";
import { erasureRoutes } from "./routes/erasure";
import { ingestRoutes } from "./routes/ingest";
import { memoryRoutes } from "./routes/memory";

export function createApp(deps: AppDeps) {
  const { log } = deps;
  return new Elysia()
    .use(requestLog(log, deps.metrics))
    .onError(({ code, error, set, request }) => {
      if (error instanceof LifelineError) {
        set.status = httpStatus(error);
        if (error.retryAfterSeconds !== undefined) set.headers["retry-after"] = String(Math.ceil(error.retryAfterSeconds));
        if (set.status >= 500) log.warn({ requestId: requestIdOf(request), err: error.cause ?? error, code: error.code }, "request failed");
        return { error: error.code, message: error.message, ...error.details };
      }
      if (code === "NOT_FOUND") return { error: "NOT_FOUND", message: "no such route" };
      if (code === "PARSE") {
        set.status = 400;
        return { error: "INVALID_JSON", message: "request body could not be parsed" };
      }
      if (code === "VALIDATION") {
        set.status = 400;
        return { error: "INVALID_REQUEST", message: error.message };
      }
      set.status = 500;
      log.error({ requestId: requestIdOf(request), err: error }, "unhandled error");
      return { error: "INTERNAL", message: "internal error" };
    })
    .use(requestRateLimit(deps))
    .use(docsRoutes())
    .use(opsRoutes(deps))
    .use(adminRoutes(deps))
    .use(modelRoutes(deps))
    .use(ingestRoutes(deps))
    .use(clientRoutes(deps))
    .use(memoryRoutes(deps))
    .use(erasureRoutes(deps))
    .use(signalRoutes(deps));
}

export type App = ReturnType<typeof createApp>;
