import { Elysia } from "elysia";
import type { Logger } from "../log/logger";
import type { ApiMetrics } from "../metrics/api-metrics";

const started = new WeakMap<Request, { requestId: string; at: number }>();

// An incoming id is kept only if it is short and plain, so a caller cannot inject log noise.
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of a request seen by requestLog (X-Request-Id, or one made up). */
export const requestIdOf = (request: Request): string | undefined => started.get(request)?.requestId;

/**
 * One log line per request (method, route template, status, ms), the request id on it and in
 * the X-Request-Id response header, and the HTTP metrics. Never headers or bodies: keys and
 * customer data stay out of the logs.
 */
export function requestLog(log: Logger, metrics: Pick<ApiMetrics, "observeRequest">) {
  return new Elysia({ name: "request-log" })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get("x-request-id");
      const requestId = incoming && ACCEPTABLE_ID.test(incoming) ? incoming : crypto.randomUUID();
      started.set(request, { requestId, at: performance.now() });
      set.headers["x-request-id"] = requestId;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const start = started.get(request);
      if (!start) return;
      const seconds = (performance.now() - start.at) / 1000;
      const status = responseValue instanceof Response ? responseValue.status : typeof set.status === "number" ? set.status : 200;
      // Unmatched paths share one label: raw paths would make a series per typo or scan.
      const template = route || "unmatched";
      const method = request.method;
      metrics.observeRequest(method, template, status, seconds);
      log.info({ requestId: start.requestId, method, route: template, status, ms: Math.round(seconds * 10_000) / 10 }, "request");
    });
}
