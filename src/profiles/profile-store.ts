import { emptyProfile, foldEventsInto, PURCHASE, stageFor, type Profile } from "../../pipelines/profile";
import type { CleanEvent } from "../../pipelines/clean-event";
import type { StageRules } from "../../pipelines/lifecycle-stage";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

// Compare-and-set: the profile and the messageIds it now includes are written together, and
// only if nobody changed the profile since we read it. A replayed event is found in the
// applied set and skipped, so processing the same messageId twice changes nothing.
// An erased customer (tombstone KEYS[4]) takes nothing in, so late events cannot resurrect it.
const CAS_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'v', ARGV[3])
local ids = tonumber(ARGV[4])
redis.call('SADD', KEYS[2], unpack(ARGV, 5, 4 + ids))
if #ARGV > 4 + ids then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, 5 + ids))
  redis.call('LTRIM', KEYS[3], -5000, -1)
end
return 1`;

type CasClient = RedisClient & { lifelineProfileCas(...keysThenArgs: (string | number)[]): Promise<number> };

export const ANONYMOUS_PREFIX = "anon:";
export const isAnonymousCustomer = (customerId: string) => customerId.startsWith(ANONYMOUS_PREFIX);

/**
 * `applied`: events this call folded into the profile. `seenBefore`: events of the call the
 * profile already held (a redelivery); handed on again all the same, because a crash may
 * have come between the profile write and the hand-off (later stages are idempotent).
 */
export type ApplyResult = { profile: Profile; applied: CleanEvent[]; seenBefore: CleanEvent[] };

export type ProfileStore = ReturnType<typeof createProfileStore>;

export function createProfileStore(redis: RedisClient, keys: Keyspace, rules: StageRules) {
  if (!("lifelineProfileCas" in redis)) (redis as RedisClient).defineCommand("lifelineProfileCas", { lua: CAS_SCRIPT, numberOfKeys: 4 });
  const client = redis as CasClient;

  async function read(customerId: string): Promise<{ profile: Profile | undefined; version: string }> {
    const [json, v] = await redis.hmget(keys.profile(customerId), "json", "v");
    // Written only by apply() below from a validated fold; parsing it again with zod costs more than the fold.
    return { profile: json ? (JSON.parse(json) as Profile) : undefined, version: v ?? "" };
  }

  /** Counts for the refit policy; approximate (a crash right after the write skips them). */
  async function countData(customerId: string, isNew: boolean, purchases: number) {
    if (isAnonymousCustomer(customerId)) return;
    if (isNew) await redis.hincrby(keys.dataStats(), "customers", 1);
    if (purchases) await redis.hincrby(keys.dataStats(), "purchases", purchases);
  }

  return {
    async get(customerId: string): Promise<Profile | undefined> {
      return (await read(customerId)).profile;
    },

    /**
     * Applies the events this customer's profile does not include yet; returns them with
     * their stage in the customer's history. Safe to call again with the same events.
     */
    async apply(customerId: string, events: CleanEvent[]): Promise<ApplyResult> {
      const keepEvents = isAnonymousCustomer(customerId);
      for (let attempt = 0; ; attempt++) {
        const ids = events.map((e) => e.messageId);
        const [{ profile: current, version }, seen] = await Promise.all([read(customerId), redis.smismember(keys.applied(customerId), ...ids)]);
        const unique = new Set<string>();
        const fresh = events.filter((e, i) => seen[i] === 0 && !unique.has(e.messageId) && unique.add(e.messageId));
        const base = current ?? emptyProfile(customerId);
        const freshIds = new Set(fresh.map((e) => e.messageId));
        const repeated = new Set<string>();
        const seenBefore = events
          .filter((e) => !freshIds.has(e.messageId) && !repeated.has(e.messageId) && repeated.add(e.messageId))
          .map((e) => ({ ...e, stage: stageFor(base, e, rules) }));
        if (fresh.length === 0) return { profile: base, applied: [], seenBefore };

        // `base` was parsed for this attempt alone, so folding into it in place is safe.
        const next = foldEventsInto(base, fresh, rules);
        const stageById = new Map(next.recentEvents.map((r) => [r.messageId, r.stage]));
        const applied = fresh.map((e) => ({ ...e, stage: stageById.get(e.messageId) ?? stageFor(next, e, rules) }));
        const args: (string | number)[] = [
          keys.profile(customerId),
          keys.applied(customerId),
          keys.anonymousEvents(customerId),
          keys.erased(customerId),
          version,
          JSON.stringify(next),
          String(next.version),
          fresh.length,
          ...fresh.map((e) => e.messageId),
          ...(keepEvents ? applied.map((e) => JSON.stringify(e)) : []),
        ];
        const outcome = await client.lifelineProfileCas(...args);
        if (outcome === 2) return { profile: base, applied: [], seenBefore: [] };
        if (outcome === 1) {
          if (!current) await redis.sadd(keys.customerShard(keys.customerShardOf(customerId)), customerId);
          await countData(customerId, !current, fresh.filter((e) => e.name === PURCHASE).length);
          return { profile: next, applied, seenBefore };
        }
        if (attempt > 50) throw new Error(`profile of ${customerId} kept changing under us; giving up after ${attempt} attempts`);
      }
    },

    /** The cleaned events kept for an anonymous customer, oldest first. */
    async anonymousEvents(customerId: string): Promise<CleanEvent[]> {
      const raw = await redis.lrange(keys.anonymousEvents(customerId), 0, -1);
      return raw.map((r) => JSON.parse(r) as CleanEvent);
    },

    async remove(customerId: string): Promise<void> {
      await redis.del(keys.profile(customerId), keys.applied(customerId), keys.anonymousEvents(customerId));
      await redis.srem(keys.customerShard(keys.customerShardOf(customerId)), customerId);
    },

    /** How many customer ids there are (anonymous visitors included). */
    async count(): Promise<number> {
      const sizes = await Promise.all(Array.from({ length: keys.customerShards }, (_, shard) => redis.scard(keys.customerShard(shard))));
      return sizes.reduce((a, b) => a + b, 0);
    },

    /** Every customer id, shard by shard. */
    async *customerIds(): AsyncGenerator<string> {
      for (let shard = 0; shard < keys.customerShards; shard++) {
        let cursor = "0";
        do {
          const [next, ids] = await redis.sscan(keys.customerShard(shard), cursor, "COUNT", 1000);
          cursor = next;
          yield* ids;
        } while (cursor !== "0");
      }
    },
  };
}
