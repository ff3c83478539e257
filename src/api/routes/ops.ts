import { Elysia } from "elysia";
import { eventBacklog } from "../../../queues/backlog";
import { readUpstreamFailures, readWorkerHealth, type UpstreamFailure } from "../../metrics/health-records";
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

  const failingSince = (f: UpstreamFailure | undefined): Check => (f ? { ok: false, detail: `failing since ${f.since}: ${f.message}` } : { ok: true, detail: "ok" });

  /** What the workers reported: upstream failures, start-ups, dead letters. Each makes /ready "degraded", not "not ready". */
  async function degradedChecks(): Promise<Record<string, Check>> {
    const max = config.LIFELINE_READY_MAX_DEAD_LETTERS;
    const [upstream, workers, deadLetters, failed] = await Promise.all([
      readUpstreamFailures(redis, keys),
      readWorkerHealth(redis, keys),
      queues["dead-letter"].getJobCounts("waiting", "delayed", "paused", "prioritized"),
      Promise.all([queues.clean, queues.embed, queues.inference].map(async (q) => (await q.getJobCounts("failed")).failed ?? 0)),
    ]);
    const letters = Object.values(deadLetters).reduce((a: number, b) => a + (b ?? 0), 0);
    const failedJobs = failed.reduce((a: number, b) => a + b, 0);
    return {
      embeddings: config.EMBEDDINGS_PROVIDER === "local" ? { ok: true, detail: "local model" } : failingSince(upstream.embeddings),
      llm: !config.OPENAI_BASE_URL && !config.OPENAI_API_KEY ? { ok: true, detail: "not configured (strategies from the playbook)" } : failingSince(upstream.llm),
      workers: workers.startFailure
        ? { ok: false, detail: `a worker cannot start (${workers.startFailure.at}): ${workers.startFailure.message}` }
        : workers.startsLast10Minutes > config.LIFELINE_READY_MAX_WORKER_STARTS
          ? { ok: false, detail: `workers started ${workers.startsLast10Minutes} times in 10 minutes (a crash loop?)` }
          : { ok: true, detail: "ok" },
      deadLetters: { ok: letters <= max, detail: letters },
      failedJobs: { ok: failedJobs <= max, detail: failedJobs },
    };
  }

  return new Elysia({ name: "ops" })
    .get("/health", () => ({ status: "ok" }), {
      detail: { summary: "Liveness: the process answers", tags: ["ops"], responses: { 200: { description: "up", content: { "application/json": { example: { status: "ok" } } } } } },
    })
    .get(
      "/ready",
      async ({ set }) => {
        const redisCheck = await checkRedis();
        const [vectorStore, backlog, degraded] = await Promise.all([
          checkVectorStore(),
          redisCheck.ok ? checkBacklog() : Promise.resolve<Check>({ ok: false, detail: "needs redis" }),
          redisCheck.ok
            ? degradedChecks().catch((err: Error): Record<string, Check> => ({ workers: { ok: false, detail: `could not be read: ${err.message}` } }))
            : ({} as Record<string, Check>),
        ]);
        const vital: Record<string, Check> = { redis: redisCheck, vectorStore, backlog };
        const failingOf = (checks: Record<string, Check>) => Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
        const down = failingOf(vital);
        const failing = [...down, ...failingOf(degraded)];
        set.status = down.length ? 503 : 200;
        return {
          status: down.length ? "not ready" : failing.length ? "degraded" : "ready",
          ...(failing.length ? { failing } : {}),
          checks: Object.fromEntries(Object.entries({ ...vital, ...degraded }).map(([name, c]) => [name, c.detail])),
        };
      },
      {
        detail: {
          summary:
            "Readiness: 503 when Redis or the vector store (Qdrant) cannot be reached or the backlog passes LIFELINE_READY_MAX_BACKLOG; 200 \"degraded\" naming a failing embedding provider or LLM, a worker that cannot start or keeps restarting, dead letters or failed jobs above LIFELINE_READY_MAX_DEAD_LETTERS",
          tags: ["ops"],
          responses: {
            200: {
              description: "ready, or degraded (`failing` names what)",
              content: {
                "application/json": {
                  example: {
                    status: "degraded",
                    failing: ["embeddings"],
                    checks: { redis: "ok", vectorStore: "ok", backlog: 12, embeddings: "failing since 2024-05-01T10:00:00.000Z: embeddings from text-embedding-3-small at https://api.openai.com/v1: HTTP 503: overloaded", llm: "ok", workers: "ok", deadLetters: 0, failedJobs: 0 },
                  },
                },
              },
            },
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
