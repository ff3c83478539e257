import { Elysia } from "elysia";
import { eventBacklog } from "../../../queues/backlog";
import type { AppDeps } from "../deps";

type Check = { ok: boolean; detail: string | number };

/** /health (the process answers), /ready (it can do its job), /metrics (Prometheus). */
export function opsRoutes(deps: AppDeps) {
  const { config, redis, keys, queues } = deps;

  async function checkRedis(): Promise<Check> {
    try {
      return { ok: (await redis.ping()) === "PONG", detail: "ok" };
    } catch (err) {
      return { ok: false, detail: `not reachable: ${(err as Error).message}` };
    }
  }

  async function checkVectorStore(): Promise<Check> {
    if (!config.QDRANT_URL) return { ok: true, detail: "embedded (nothing to reach)" };
    try {
      const res = await fetch(new URL("/readyz", config.QDRANT_URL), {
        headers: config.QDRANT_API_KEY ? { "api-key": config.QDRANT_API_KEY } : {},
        signal: AbortSignal.timeout(2_000),
      });
      return { ok: res.ok, detail: res.ok ? "ok" : `qdrant answered ${res.status}` };
    } catch (err) {
      return { ok: false, detail: `qdrant not reachable: ${(err as Error).message}` };
    }
  }

  /** Events accepted and not yet in profiles and memory (streams not yet read, clean and embed jobs waiting). */
  async function checkBacklog(): Promise<Check> {
    if (config.LIFELINE_READY_MAX_BACKLOG === 0) return { ok: true, detail: "not checked" };
    try {
      const backlog = await eventBacklog(redis, keys, queues);
      return { ok: backlog <= config.LIFELINE_READY_MAX_BACKLOG, detail: backlog };
    } catch (err) {
      return { ok: false, detail: `could not be measured: ${(err as Error).message}` };
    }
  }

  return new Elysia({ name: "ops" })
    .get("/health", () => ({ status: "ok" }), {
      detail: { summary: "Liveness: the process answers", tags: ["ops"], responses: { 200: { description: "up", content: { "application/json": { example: { status: "ok" } } } } } },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const redisCheck = await checkRedis();
        const [vectorStore, backlog] = await Promise.all([
          checkVectorStore(),
          redisCheck.ok ? checkBacklog() : Promise.resolve<Check>({ ok: false, detail: "needs redis" }),
        ]);
        const checks = { redis: redisCheck, vectorStore, backlog };
        const failing = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
        set.status = failing.length ? 503 : 200;
        return {
          status: failing.length ? "not ready" : "ready",
          ...(failing.length ? { failing } : {}),
          checks: Object.fromEntries(Object.entries(checks).map(([name, c]) => [name, c.detail])),
        };
      },
      {
        detail: {
          summary: "Readiness: Redis reachable, vector store reachable (if Qdrant), worker backlog under LIFELINE_READY_MAX_BACKLOG",
          tags: ["ops"],
          responses: {
            200: { description: "ready", content: { "application/json": { example: { status: "ready", checks: { redis: "ok", vectorStore: "ok", backlog: 12 } } } } },
            503: { description: "a check failed; `failing` names it", content: { "application/json": { example: { status: "not ready", failing: ["redis"], checks: { redis: "not reachable: Connection is closed.", vectorStore: "ok", backlog: "needs redis" } } } } },
          },
        },
      },
    )
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = deps.metrics.registry.contentType;
        return deps.metrics.scrape();
      },
      { detail: { summary: "Prometheus metrics (text exposition format)", tags: ["ops"], responses: { 200: { description: "metrics", content: { "text/plain": { example: "lifeline_events_accepted_total 42\n" } } } } } },
    );
}
