import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

// Worker processes see upstream failures and their own start-ups; the API's /ready reads what
// they wrote here. Records expire, so a worker that dies does not leave a failure behind forever.

export const upstreams = ["embeddings", "llm"] as const;
export type Upstream = (typeof upstreams)[number];
export type UpstreamFailure = { message: string; since: string; at: string };

/** Longer than the longest breaker pause, so a failing upstream stays reported between its trials. */
const FAILURE_TTL_SECONDS = 600;
const WORKER_WINDOW_MS = 600_000;

/**
 * One process's reports on one upstream: `failed` refreshes the record at most once a second,
 * `ok` clears it (at once after a failure here, else at most every 5 s: another process may have failed).
 */
export function upstreamHealthReporter(redis: RedisClient, keys: Keyspace, upstream: Upstream, now: () => number = Date.now) {
  const key = keys.upstreamHealth(upstream);
  let failingSinceMs: number | undefined;
  let lastWriteMs = -Infinity;
  let lastClearMs = -Infinity;
  return {
    failed(message: string): void {
      const at = now();
      failingSinceMs ??= at;
      if (at - lastWriteMs < 1_000) return;
      lastWriteMs = at;
      const record: UpstreamFailure = { message, since: new Date(failingSinceMs).toISOString(), at: new Date(at).toISOString() };
      redis.set(key, JSON.stringify(record), "EX", FAILURE_TTL_SECONDS).catch(() => undefined);
    },
    ok(): void {
      const at = now();
      const wasFailing = failingSinceMs !== undefined;
      failingSinceMs = undefined;
      if (!wasFailing && at - lastClearMs < 5_000) return;
      lastClearMs = at;
      lastWriteMs = -Infinity;
      redis.del(key).catch(() => undefined);
    },
  };
}

export type UpstreamHealthReporter = ReturnType<typeof upstreamHealthReporter>;

export async function readUpstreamFailures(redis: RedisClient, keys: Keyspace): Promise<Partial<Record<Upstream, UpstreamFailure>>> {
  const values = await Promise.all(upstreams.map((u) => redis.get(keys.upstreamHealth(u))));
  return Object.fromEntries(upstreams.flatMap((u, i) => (values[i] ? [[u, JSON.parse(values[i]!) as UpstreamFailure]] : [])));
}

/** A worker process came up: counted for /ready's restart check; clears an earlier start failure. */
export async function recordWorkerStart(redis: RedisClient, keys: Keyspace, workerId: string, nowMs = Date.now()): Promise<void> {
  await redis
    .multi()
    .zadd(keys.workerStarts(), nowMs, workerId)
    .zremrangebyscore(keys.workerStarts(), "-inf", nowMs - WORKER_WINDOW_MS)
    .pexpire(keys.workerStarts(), WORKER_WINDOW_MS)
    .del(keys.workerStartFailure())
    .exec();
}

/** A worker process could not start; /ready names it until a worker starts or 5 minutes pass. */
export async function recordWorkerStartFailure(redis: RedisClient, keys: Keyspace, message: string): Promise<void> {
  await redis.set(keys.workerStartFailure(), JSON.stringify({ message, at: new Date().toISOString() }), "EX", 300);
}

export async function readWorkerHealth(redis: RedisClient, keys: Keyspace, nowMs = Date.now()) {
  const [starts, failure] = await Promise.all([redis.zcount(keys.workerStarts(), nowMs - WORKER_WINDOW_MS, "+inf"), redis.get(keys.workerStartFailure())]);
  return { startsLast10Minutes: starts, startFailure: failure ? (JSON.parse(failure) as { message: string; at: string }) : undefined };
}
