import { createHmac, randomBytes } from "node:crypto";
import type { Config } from "../config";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

export type Suppression = ReturnType<typeof createSuppression>;

/**
 * Erased customers who may not come back, as the big CDPs keep them: a keyed hash (HMAC-SHA256)
 * of each id, never the id, for LIFELINE_ERASURE_SUPPRESSION_DAYS (0: until lifted). Unlike the
 * erasure tombstone (which names the id, and lasts days) it outlives the erasure: events, identity
 * links and dead-letter replays for a suppressed id are dropped.
 */
export function createSuppression(redis: RedisClient, keys: Keyspace, config: Pick<Config, "LIFELINE_SUPPRESSION_SECRET" | "LIFELINE_ERASURE_SUPPRESSION_DAYS">) {
  let secret: Promise<string> | undefined;
  const key = () =>
    (secret ??= (async () => {
      if (config.LIFELINE_SUPPRESSION_SECRET) return config.LIFELINE_SUPPRESSION_SECRET;
      await redis.set(keys.suppressionSecret(), randomBytes(32).toString("base64url"), "NX");
      return (await redis.get(keys.suppressionSecret()))!;
    })().catch((err: unknown) => {
      secret = undefined;
      throw err;
    }));
  const hashes = async (ids: string[]) => {
    const k = await key();
    return ids.map((id) => createHmac("sha256", k).update(id).digest("base64url"));
  };

  /** The ids among these that are suppressed now (one round trip). */
  async function suppressedOf(customerIds: string[], nowMs = Date.now()): Promise<Set<string>> {
    const ids = [...new Set(customerIds)];
    if (!ids.length) return new Set();
    const scores = (await redis.zmscore(keys.suppressed(), ...(await hashes(ids)))) as (string | null)[];
    // Redis writes an unbounded suppression's score as "inf".
    const untilMs = (score: string | null) => (score === null ? -Infinity : /^\+?inf$/.test(score) ? Infinity : Number(score));
    return new Set(ids.filter((_, i) => untilMs(scores[i]!) > nowMs));
  }

  return {
    suppressedOf,
    /** Erased: a tombstone (the days right after an erasure) or a suppression. */
    async erasedOf(customerIds: string[]): Promise<Set<string>> {
      const ids = [...new Set(customerIds)];
      // One command per id (auto-pipelined): tombstones live in their customers' Cluster slots.
      const [tombstoned, suppressed] = await Promise.all([Promise.all(ids.map((id) => redis.exists(keys.erased(id)))), suppressedOf(ids)]);
      return new Set(ids.filter((id, i) => tombstoned[i] === 1 || suppressed.has(id)));
    },
    /** Customer ids (userIds, `anon:` visitor ids) that may not come back from now on. */
    async add(customerIds: string[], nowMs = Date.now()): Promise<void> {
      if (!customerIds.length) return;
      const until = config.LIFELINE_ERASURE_SUPPRESSION_DAYS ? nowMs + config.LIFELINE_ERASURE_SUPPRESSION_DAYS * 86_400_000 : "+inf";
      await redis.zadd(keys.suppressed(), ...(await hashes(customerIds)).flatMap((h) => [until, h]));
      await redis.zremrangebyscore(keys.suppressed(), "-inf", nowMs);
    },
    /** Lets these ids come back (an operator's decision). */
    async lift(customerIds: string[]): Promise<number> {
      return customerIds.length ? redis.zrem(keys.suppressed(), ...(await hashes(customerIds))) : 0;
    },
  };
}
