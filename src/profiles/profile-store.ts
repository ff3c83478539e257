import { applyEvents, emptyProfile, PURCHASE, stageFor, type Profile } from "../../pipelines/profile";
import type { CleanEvent } from "../../pipelines/clean-event";
import type { StageRules } from "../../pipelines/lifecycle-stage";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { freeze, profileCache } from "./profile-cache";
import { allFields, changedFields, LEGACY_JSON, profileFromFields } from "./profile-fields";

// Compare-and-set: the changed profile fields and the messageIds the profile now includes are
// written together, and only if nobody changed the profile since we read it. A replayed event
// is found in the applied set and skipped, so processing the same messageId twice changes
// nothing. An erased customer (tombstone KEYS[4]) takes nothing in, so late events cannot
// resurrect it. The customer's insight (KEYS[5]) is marked stale in the same step, so no
// crash leaves a fresh-looking insight beside a changed profile. ARGV: expected version, new
// version, then counts and runs of messageIds, field pairs to set, fields to delete, and
// (anonymous customers) cleaned events to keep.
const CAS_SCRIPT = `
if redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return 0 end
local ids, sets, dels = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
-- unpack in chunks: Lua's stack holds about 8,000 values
local function each(command, key, count)
  local last = i + count - 1
  while i <= last do
    local to = math.min(i + 999, last)
    redis.call(command, key, unpack(ARGV, i, to))
    i = to + 1
  end
end
each('SADD', KEYS[2], ids)
redis.call('HSET', KEYS[1], 'v', ARGV[2])
each('HSET', KEYS[1], sets)
each('HDEL', KEYS[1], dels)
redis.call('HSET', KEYS[5], 'stale', '1')
if i <= #ARGV then
  each('RPUSH', KEYS[3], #ARGV - i + 1)
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
 * `profile` is frozen: it may be the very object the store keeps for the next write.
 */
export type ApplyResult = { profile: Profile; applied: CleanEvent[]; seenBefore: CleanEvent[]; erased?: true };

export type ProfileStore = ReturnType<typeof createProfileStore>;

type Stored = { profile: Profile | undefined; version: string; legacy: boolean };

export function createProfileStore(redis: RedisClient, keys: Keyspace, rules: StageRules, options: { cacheBytes?: number } = {}) {
  if (!("lifelineProfileCas" in redis)) (redis as RedisClient).defineCommand("lifelineProfileCas", { lua: CAS_SCRIPT, numberOfKeys: 5 });
  const client = redis as CasClient;
  const cache = profileCache(options.cacheBytes ?? 0);

  async function read(customerId: string): Promise<Stored> {
    // Written only by apply() below from a validated fold; parsing it again with zod costs more than the fold.
    const hash = await redis.hgetall(keys.profile(customerId));
    return { profile: profileFromFields(hash), version: hash.v ?? "", legacy: LEGACY_JSON in hash };
  }

  /** What the cache holds for this customer, as a read would return it (it never holds the older layout). */
  const cached = (customerId: string): Stored | undefined => {
    const entry = cache.get(customerId);
    return entry && { ...entry, legacy: false };
  };

  /** The stored profile, from the cache when the stored version is still the one it holds. */
  async function current(customerId: string): Promise<Stored> {
    const kept = cached(customerId);
    if (kept && (await redis.hget(keys.profile(customerId), "v")) === kept.version) return kept;
    return read(customerId);
  }

  /** Counts for the refit policy; approximate (a crash right after the write skips them). */
  async function countData(customerId: string, isNew: boolean, purchases: number) {
    if (isAnonymousCustomer(customerId)) return;
    if (isNew) await redis.hincrby(keys.dataStats(), "customers", 1);
    if (purchases) await redis.hincrby(keys.dataStats(), "purchases", purchases);
  }

  return {
    /** The customer's profile (frozen: it may be shared with the store's cache). */
    async get(customerId: string): Promise<Profile | undefined> {
      return (await current(customerId)).profile;
    },

    /**
     * Applies the events this customer's profile does not include yet; returns them with
     * their stage in the customer's history. Safe to call again with the same events.
     */
    async apply(customerId: string, events: CleanEvent[]): Promise<ApplyResult> {
      const keepEvents = isAnonymousCustomer(customerId);
      const ids = events.map((e) => e.messageId);
      for (let attempt = 0; ; attempt++) {
        // The compare-and-set checks the version itself: a cached profile needs no read first.
        const kept = attempt === 0 ? cached(customerId) : undefined;
        const [stored, seen] = await Promise.all([kept ?? read(customerId), redis.smismember(keys.applied(customerId), ...ids)]);
        const unique = new Set<string>();
        const fresh = events.filter((e, i) => seen[i] === 0 && !unique.has(e.messageId) && unique.add(e.messageId));
        const base = stored.profile ?? emptyProfile(customerId);
        const freshIds = new Set(fresh.map((e) => e.messageId));
        const repeated = new Set<string>();
        const seenBefore = events
          .filter((e) => !freshIds.has(e.messageId) && !repeated.has(e.messageId) && repeated.add(e.messageId))
          .map((e) => ({ ...e, stage: stageFor(base, e, rules) }));
        if (fresh.length === 0) return { profile: freeze(base), applied: [], seenBefore };

        const next = freeze(applyEvents(base, fresh, rules));
        const stageById = new Map(next.recentEvents.map((r) => [r.messageId, r.stage]));
        const applied = fresh.map((e) => ({ ...e, stage: stageById.get(e.messageId) ?? stageFor(next, e, rules) }));
        const fields = stored.profile && !stored.legacy ? changedFields(stored.profile, next, fresh) : { set: allFields(next), del: stored.legacy ? [LEGACY_JSON] : [] };
        const outcome = await client.lifelineProfileCas(
          keys.profile(customerId),
          keys.applied(customerId),
          keys.anonymousEvents(customerId),
          keys.erased(customerId),
          keys.insight(customerId),
          stored.version,
          String(next.version),
          fresh.length,
          fields.set.length,
          fields.del.length,
          ...fresh.map((e) => e.messageId),
          ...fields.set,
          ...fields.del,
          ...(keepEvents ? applied.map((e) => JSON.stringify(e)) : []),
        );
        if (outcome === 1) {
          cache.set(customerId, { profile: next, version: String(next.version) });
          if (!stored.profile) await redis.sadd(keys.customerShard(keys.customerShardOf(customerId)), customerId);
          await countData(customerId, !stored.profile, fresh.filter((e) => e.name === PURCHASE).length);
          return { profile: next, applied, seenBefore };
        }
        cache.delete(customerId);
        if (outcome === 2) return { profile: freeze(base), applied: [], seenBefore: [], erased: true };
        if (attempt > 50) throw new Error(`profile of ${customerId} kept changing under us; giving up after ${attempt} attempts`);
      }
    },

    /** The cleaned events kept for an anonymous customer, oldest first. */
    async anonymousEvents(customerId: string): Promise<CleanEvent[]> {
      const raw = await redis.lrange(keys.anonymousEvents(customerId), 0, -1);
      return raw.map((r) => JSON.parse(r) as CleanEvent);
    },

    async remove(customerId: string): Promise<void> {
      cache.delete(customerId);
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
