import { Elysia } from "elysia";
import type { Profile } from "../../../pipelines/profile";
import { ANONYMOUS_PREFIX } from "../../profiles/profile-store";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";
import { knownCustomer } from "../known-customer";

export type ErasureResult = { customerId: string; customerIds: string[]; memoryPoints: number; identityLinks: number };

/**
 * Erases a customer: profile, vector memory and identity links, for the customer and the visitor
 * ids stitched into it. Tombstones go first: from then on the profile CAS and the embed worker drop
 * events of these ids still in flight, so nothing can resurrect the customer while we delete.
 */
export async function eraseCustomer(deps: AppDeps, customerId: string, profile: Profile): Promise<ErasureResult> {
  const { redis, keys, config } = deps;
  const anonymousIds = profile.identities.anonymousIds;
  const customerIds = [...new Set([customerId, ...anonymousIds.map((a) => ANONYMOUS_PREFIX + a)])];
  // Opened first: if the memory cannot be opened, nothing is deleted and the caller can simply retry.
  const { store } = await deps.semantic.open();
  const erasedAt = new Date().toISOString();
  // One command per key: the keys live in different Cluster slots.
  await Promise.all(customerIds.map((id) => redis.set(keys.erased(id), erasedAt, "EX", config.LIFELINE_ERASURE_TOMBSTONE_SECONDS)));
  await Promise.all(customerIds.map((id) => deps.profiles.remove(id)));
  const identityLinks = await unlink(deps, anonymousIds, customerId);
  let memoryPoints = 0;
  for (const id of customerIds) memoryPoints += await store.deleteCustomer(id);
  deps.log.info({ customerId, customerIds: customerIds.length, memoryPoints, identityLinks }, "customer erased");
  return { customerId, customerIds, memoryPoints, identityLinks };
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
    { detail: { summary: "Erase a customer: profile, vector memory, identity links (late events are dropped)", tags: ["clients"] } },
  );
}
