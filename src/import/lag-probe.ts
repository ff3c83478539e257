import Redis from "ioredis";
import type { ApiClient } from "./api-client";

/** Whether the pipeline can take more now; when not, how long to wait and why. */
export type LagVerdict = { wait: false } | { wait: true; ms: number; reason: string };
export type LagProbe = { check(): Promise<LagVerdict>; close(): void };

const CONSUMER_GROUP = "lifeline"; // queues/stream-bridge.ts

/**
 * Back-pressure from the API: GET /ready answering 503 means wait (honouring Retry-After). A
 * JSON body with a numeric `backlog` is compared with `maxLag`. An API without /ready (404)
 * gives no signal; the importer then relies on 429/503 answers to its batches.
 */
export function httpLagProbe(api: ApiClient, maxLag?: number): LagProbe {
  let isAvailable = true;
  return {
    async check() {
      if (!isAvailable) return { wait: false };
      let r: Awaited<ReturnType<ApiClient["ready"]>>;
      try {
        r = await api.ready();
      } catch {
        return { wait: false }; // the batch request itself will report an unreachable API
      }
      if (r.status === 404) {
        isAvailable = false;
        return { wait: false };
      }
      if (r.status === 503) return { wait: true, ms: r.retryAfterMs ?? 1_000, reason: "API not ready (GET /ready 503)" };
      const backlog = backlogOf(r.body);
      if (maxLag !== undefined && backlog !== undefined && backlog > maxLag)
        return { wait: true, ms: 1_000, reason: `pipeline backlog ${backlog} > --max-lag ${maxLag}` };
      return { wait: false };
    },
    close() {},
  };
}

function backlogOf(body: unknown): number | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as Record<string, unknown>;
  for (const v of [b.backlog, (b.checks as Record<string, unknown> | undefined)?.backlog, b.lag]) {
    if (typeof v === "number") return v;
    if (typeof v === "object" && v !== null && typeof (v as { value?: unknown }).value === "number") return (v as { value: number }).value;
  }
  return undefined;
}

/**
 * Back-pressure read from Redis itself (opt-in with --redis-url): stream entries not yet read
 * by the workers' consumer group plus those read but not acknowledged, plus clean jobs waiting.
 * One stream entry holds one request's events for one partition.
 */
export function redisLagProbe(redisUrl: string, prefix: string, maxLag: number): LagProbe & { backlog(): Promise<number> } {
  const redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
  let streams: string[] | undefined;

  async function findStreams(): Promise<string[]> {
    const found = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:{p*}:events`, "COUNT", 1000);
      cursor = next;
      keys.forEach((k) => found.add(k));
    } while (cursor !== "0");
    return [...found];
  }

  async function backlog(): Promise<number> {
    streams ??= await findStreams();
    if (streams.length === 0) streams = undefined; // nothing written yet; look again next time
    let total = Number(await redis.llen(`${prefix}:{q-clean}:clean:wait`));
    for (const stream of streams ?? []) {
      const groups = (await redis.xinfo("GROUPS", stream).catch(() => [])) as unknown[][];
      for (const g of groups) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
        if (info.get("name") !== CONSUMER_GROUP) continue;
        total += Number(info.get("lag") ?? 0) + Number(info.get("pending") ?? 0);
      }
    }
    return total;
  }

  return {
    backlog,
    async check() {
      const n = await backlog();
      return n > maxLag ? { wait: true, ms: 500, reason: `pipeline backlog ${n} entries > --max-lag ${maxLag}` } : { wait: false };
    },
    close: () => redis.disconnect(),
  };
}
