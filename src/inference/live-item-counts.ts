/**
 * The live counts behind recommendations between refits (pipelines/recommend/sources/live.ts),
 * kept in Redis in one hash slot: distinct buyers per item, and customers who bought two items
 * both. Updated with every applied purchase; rebuilt from every profile at the first refit.
 * Approximate between refits: a crash between a profile write and its count skips that count.
 */
import { liveIncrements, type LiveEvidence, type RecHistory } from "../../pipelines/recommend";
import type { Profile } from "../../pipelines/profile";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

/** Items kept per "bought with" list (the most co-bought). */
const MAX_TOGETHER = 300;
const READ_TOGETHER = 50;
const READ_POPULAR = 100;

export type LiveItemCounts = ReturnType<typeof createLiveItemCounts>;

export function createLiveItemCounts(redis: RedisClient, keys: Keyspace) {
  async function add(changes: ReturnType<typeof liveIncrements>[]) {
    const pipeline = redis.pipeline();
    const touched = new Set<string>();
    for (const { newItems, pairs } of changes) {
      for (const n of newItems) {
        pipeline.zincrby(keys.liveBuyers(), 1, n.itemId);
        if (n.name) pipeline.hset(keys.liveNames(), n.itemId, n.name);
      }
      for (const [i, j] of pairs) {
        pipeline.zincrby(keys.liveTogether(i), 1, j);
        pipeline.zincrby(keys.liveTogether(j), 1, i);
        touched.add(i).add(j);
      }
    }
    for (const item of touched) pipeline.zremrangebyrank(keys.liveTogether(item), 0, -(MAX_TOGETHER + 1));
    if (pipeline.length) await pipeline.exec();
  }

  return {
    /** Counts the first-time purchases among `fresh` for a customer whose profile (after them) is `profile`. */
    async record(updates: { profile: Profile; fresh: { name: string; products: Profile["purchases"][number]["products"] }[] }[]) {
      const changes = updates
        .map((u) => liveIncrements(u.profile.items, u.fresh.filter((e) => e.name === "Order Completed")))
        .filter((c) => c.newItems.length > 0);
      if (changes.length) await add(changes);
    },

    /** Rebuilds every count from the population (once; later purchases keep them current). */
    async rebuildOnce(population: readonly Profile[]) {
      if (await redis.exists(keys.liveBuilt())) return false;
      const changes = population.map((p) => liveIncrements(p.items, p.purchases));
      await add(changes);
      await redis.set(keys.liveBuilt(), new Date().toISOString());
      return true;
    },

    /** The live evidence for one customer: popular items, and what was bought with their recent purchases. */
    async evidenceFor(customer: RecHistory): Promise<LiveEvidence> {
      const recent: string[] = [];
      for (const e of [...customer.events].sort((a, b) => b.ts - a.ts))
        if (e.kind === "purchase" && !recent.includes(e.itemId) && recent.push(e.itemId) >= 20) break;
      const pipeline = redis.pipeline();
      pipeline.zrevrange(keys.liveBuyers(), 0, READ_POPULAR - 1, "WITHSCORES");
      for (const item of recent) pipeline.zrevrange(keys.liveTogether(item), 0, READ_TOGETHER - 1, "WITHSCORES");
      const replies = (await pipeline.exec()) ?? [];
      const pairsOf = (i: number) => {
        const flat = (replies[i]?.[1] as string[] | undefined) ?? [];
        const out: { itemId: string; n: number }[] = [];
        for (let k = 0; k < flat.length; k += 2) out.push({ itemId: flat[k]!, n: Number(flat[k + 1]) });
        return out;
      };
      const popular = pairsOf(0);
      const together = recent.map((item, x) => ({ item, with: pairsOf(x + 1) }));
      const ids = [...new Set([...popular.map((p) => p.itemId), ...recent, ...together.flatMap((t) => t.with.map((w) => w.itemId))])];
      if (ids.length === 0) return { popular: [], together: [] };
      const [buyerCounts, names] = await Promise.all([redis.zmscore(keys.liveBuyers(), ...ids), redis.hmget(keys.liveNames(), ...ids)]);
      const buyers = new Map(ids.map((id, i) => [id, Number(buyerCounts[i] ?? 0)]));
      const name = new Map(ids.map((id, i) => [id, names[i] ?? undefined]));
      const named = (id: string) => (name.get(id) ? { name: name.get(id)! } : {});
      return {
        popular: popular.map((p) => ({ itemId: p.itemId, buyers: p.n, ...named(p.itemId) })),
        together: together
          .filter((t) => t.with.length > 0)
          .map((t) => ({
            itemId: t.item,
            ...named(t.item),
            buyers: buyers.get(t.item) ?? 0,
            with: t.with.map((w) => ({ itemId: w.itemId, ...named(w.itemId), customers: w.n, buyers: buyers.get(w.itemId) ?? 0 })),
          })),
      };
    },
  };
}
