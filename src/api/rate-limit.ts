import { createHash } from "node:crypto";
import type { Config } from "../config";
import { RateLimitedError, StoreUnavailableError } from "../errors";
import type { RedisClient } from "../redis/connection";
import type { Role } from "./auth";

// A token bucket per key, in Redis so every API replica draws from the same bucket. It holds
// one second of the rate and refills continuously. A request is let in while the bucket is
// not in debt and takes its whole cost, which may push it below zero: a batch larger than the
// per-second rate still goes through once, and the key then waits until the debt is paid.
// The check runs before anything is appended, so a 429 never loses an accepted event.
// Redis' own clock (TIME) keeps replicas with skewed clocks fair.
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or rate
local at = tonumber(state[2]) or now
tokens = math.min(rate, tokens + (now - at) * rate / 1000)
if tokens < 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], 2000 + math.ceil(-tokens * 1000 / rate))
  return {0, math.ceil(-tokens * 1000 / rate)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], 2000 + math.ceil(math.max(0, -tokens) * 1000 / rate))
return {1, 0}`;

type ScriptClient = RedisClient & { lifelineRateTake(key: string, rate: number, cost: number): Promise<[number, number]> };

export type RateLimiter = {
  /**
   * Charges `cost` to the key's bucket; throws RateLimitedError (429, Retry-After) when the key
   * is over its limit. Write keys are charged per event, read and admin keys per request.
   */
  charge(key: string, role: Role, cost?: number): Promise<void>;
};

/** Never the key itself in Redis: a short digest names the bucket. */
export const keyId = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 16);

// Each API process leases a slice of a key's bucket at a time (a twentieth of a second's rate)
// and spends it locally for a quarter second: one Redis call per slice instead of one per
// request. Tokens leased but unspent are simply lost, so replicas together never admit more
// than the bucket gives; at worst a little less.
const LEASE_SHARE = 1 / 20;
const LEASE_MS = 250;

export function createRateLimiter(
  redis: RedisClient,
  config: Pick<Config, "LIFELINE_KEY_PREFIX" | "LIFELINE_RATE_LIMIT_EVENTS_PER_SEC" | "LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC">,
  onLimited: (role: Role) => void = () => undefined,
): RateLimiter {
  if (!("lifelineRateTake" in redis)) (redis as RedisClient).defineCommand("lifelineRateTake", { lua: TAKE_SCRIPT, numberOfKeys: 1 });
  const client = redis as ScriptClient;
  const buckets = new Map<string, string>();
  const leases = new Map<string, { tokens: number; expiresAt: number }>();
  // Hash tag per key: on Redis Cluster each key's bucket is one slot, buckets spread out.
  const bucketOf = (key: string) => {
    let bucket = buckets.get(key);
    if (!bucket) {
      if (buckets.size > 10_000) buckets.clear();
      bucket = `${config.LIFELINE_KEY_PREFIX}:{rl:${keyId(key)}}:bucket`;
      buckets.set(key, bucket);
    }
    return bucket;
  };
  // One lease request in flight per bucket: concurrent requests wait for it rather than each
  // taking a slice (which would drain the bucket at once).
  const leasing = new Map<string, Promise<[number, number]>>();

  function spend(bucket: string, cost: number): boolean {
    const lease = leases.get(bucket);
    if (!lease || lease.expiresAt <= Date.now() || lease.tokens < cost) return false;
    lease.tokens -= cost;
    return true;
  }

  async function lease(bucket: string, rate: number, slice: number): Promise<[number, number]> {
    const reply = await client.lifelineRateTake(bucket, rate, slice).catch((err: unknown) => {
      throw new StoreUnavailableError("Redis is not answering; retry later", { cause: err, retryAfterSeconds: 1 });
    });
    if (reply[0] === 1) leases.set(bucket, { tokens: (spend(bucket, 0) ? leases.get(bucket)!.tokens : 0) + slice, expiresAt: Date.now() + LEASE_MS });
    else leases.delete(bucket);
    return reply;
  }

  return {
    async charge(key, role, cost = 1) {
      const rate = role === "write" ? config.LIFELINE_RATE_LIMIT_EVENTS_PER_SEC : config.LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC;
      if (rate === 0 || cost <= 0) return;
      const bucket = bucketOf(key);
      for (;;) {
        if (spend(bucket, cost)) return;
        let inFlight = leasing.get(bucket);
        const isMine = !inFlight;
        if (!inFlight) {
          inFlight = lease(bucket, rate, Math.max(cost, Math.floor(rate * LEASE_SHARE))).finally(() => leasing.delete(bucket));
          leasing.set(bucket, inFlight);
        }
        const [allowed, retryAfterMs] = await inFlight;
        if (allowed === 1) continue;
        if (!isMine && cost < Math.floor(rate * LEASE_SHARE)) {
          // Another request's large slice was refused; this smaller cost may still fit.
          const [mine, wait] = await lease(bucket, rate, cost);
          if (mine === 1 && spend(bucket, cost)) return;
          throw limited(role, rate, wait);
        }
        throw limited(role, rate, retryAfterMs);
      }
    },
  };

  function limited(role: Role, rate: number, retryAfterMs: number): RateLimitedError {
    onLimited(role);
    const unit = role === "write" ? "events" : "requests";
    return new RateLimitedError(`this key is over its limit of ${rate} ${unit} per second; retry after the Retry-After header's seconds`, {
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      details: { limit: rate, unit: `${unit}/s` },
    });
  }
}

/** Events a parsed ingest body carries: an array, a {batch:[…]} object, or one event. */
export function ingestEventCount(body: unknown): number {
  if (Array.isArray(body)) return body.length;
  const batch = (body as { batch?: unknown } | null)?.batch;
  return Array.isArray(batch) ? batch.length : 1;
}
