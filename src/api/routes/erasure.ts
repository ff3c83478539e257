import { Elysia } from "elysia";
import type { Profile } from "../../../pipelines/profile";
import { scrubQueues, type JobScrub } from "../../../queues/scrub-jobs";
import { erasedMatcher, partitionKeyOf } from "../../profiles/erased-matcher";
import { ANONYMOUS_PREFIX } from "../../profiles/profile-store";
import { scrubStream } from "../../streams/scrub-stream";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";
import { knownCustomer } from "../known-customer";

export type ErasureResult = {
  customerId: string;
  customerIds: string[];
  memoryPoints: number;
  identityLinks: number;
  /** Their raw events removed from the stream partitions; `deferred` ones (not yet delivered) the clean stage removes when it drops them. */
  streamEvents: { removed: number; deferred: number };
  /** Jobs that held their events or scores, and the events in them (dead letters included). */
  queues: JobScrub;
};

/**
 * Erases a customer: profile, insight, vector memory, identity links, raw events in the streams,
 * job data and dead letters, for the customer and the visitor ids stitched into it. The
 * suppression (keyed hashes, kept) and tombstones go first: from then on every stage drops events
 * of these ids, identity links to them are refused and dead-letter replay skips them, so nothing
 * can bring the customer back, during the erasure or after. What stays on disk: docs (README, Erasure).
 */
export async function eraseCustomer(deps: AppDeps, customerId: string, profile: Profile): Promise<ErasureResult> {
  const { redis, keys, config } = deps;
  const anonymousIds = profile.identities.anonymousIds;
  const customerIds = [...new Set([customerId, ...anonymousIds.map((a) => ANONYMOUS_PREFIX + a)])];
  // Opened first: if the memory cannot be opened, nothing is deleted and the caller can simply retry.
  const { store } = await deps.semantic.open();
  const erasedAt = new Date().toISOString();
  await deps.suppression.add(customerIds);
  // One command per key: the keys live in different Cluster slots.
  await Promise.all(customerIds.map((id) => redis.set(keys.erased(id), erasedAt, "EX", config.LIFELINE_ERASURE_TOMBSTONE_SECONDS)));
  await Promise.all(customerIds.map((id) => deps.profiles.remove(id)));
  await Promise.all(customerIds.map((id) => redis.del(keys.insight(id))));
  await redis.zrem(keys.rescoreDue(), ...customerIds);
  const identityLinks = await unlink(deps, anonymousIds, customerId);
  let memoryPoints = 0;
  for (const id of customerIds) memoryPoints += await store.deleteCustomer(id);

  const erased = erasedMatcher(customerIds);
  const streamEvents = { removed: 0, deferred: 0 };
  for (const partition of new Set(customerIds.map((id) => keys.partitionOf(partitionKeyOf(id))))) {
    const scrubbed = await scrubStream(redis, keys, partition, erased);
    streamEvents.removed += scrubbed.removed;
    streamEvents.deferred += scrubbed.deferred;
  }
  const queues = await scrubQueues(redis, deps.queues, erased);
  deps.log.info({ customerId, customerIds: customerIds.length, memoryPoints, identityLinks, streamEvents, queues }, "customer erased");
  return { customerId, customerIds, memoryPoints, identityLinks, streamEvents, queues };
}

/** Removes the links from these anonymousIds to the customer (never a link to someone else). */
async function unlink(deps: AppDeps, anonymousIds: string[], customerId: string): Promise<number> {
  const removed = await Promise.all(
    anonymousIds.map(async (a) => {
      const key = deps.keys.identityLink(a);
      return (await deps.redis.get(key)) === customerId ? deps.redis.del(key) : 0;
    }),
  );
  return removed.reduce((sum, n) => sum + n, 0);
}

export function erasureRoutes(deps: AppDeps) {
  return new Elysia({ name: "erasure" }).delete(
    "/clients/:id",
    async ({ params, request }) => {
      authorize(deps.keyRing, request.headers, "admin");
      const { customerId, profile } = await knownCustomer(deps, params.id);
      return eraseCustomer(deps, customerId, profile);
    },
    {
      detail: {
        summary:
          "Erase a customer: profile, insight, vector memory, identity links, their raw events in the streams, job data and dead letters; their ids stay suppressed (keyed hashes), so late events, identity links and replays do not bring them back",
        tags: ["clients"],
      },
    },
  );
}
