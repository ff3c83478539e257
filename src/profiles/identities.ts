import type { CleanEvent } from "../../pipelines/clean-event";
import type { Profile } from "../../pipelines/profile";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { ANONYMOUS_PREFIX, isAnonymousCustomer, type ProfileStore } from "./profile-store";
import type { Suppression } from "./suppression";

/** Called after an anonymous customer's history moved under a known customer. */
export type MergeListener = (from: string, to: string) => Promise<void>;

export type Identities = ReturnType<typeof createIdentities>;

/**
 * Identity stitching. A customer is its userId; a visitor known only by anonymousId is
 * `anon:<anonymousId>` until identify/alias links that anonymousId to a userId. Then the
 * visitor's events are replayed into the customer (deduplicated by messageId, so a crash
 * mid-merge is safe to repeat) and the visitor's profile is removed.
 */
export function createIdentities(redis: RedisClient, keys: Keyspace, profiles: ProfileStore, onMerge: MergeListener[] = [], suppression?: Suppression) {
  // Links never change once made, so a process may remember them.
  const known = new Map<string, string>();

  async function linkedUser(anonymousId: string): Promise<string | undefined> {
    const cached = known.get(anonymousId);
    if (cached) return cached;
    const userId = await redis.get(keys.identityLink(anonymousId));
    if (userId) remember(anonymousId, userId);
    return userId ?? undefined;
  }

  function remember(anonymousId: string, userId: string) {
    if (known.size > 100_000) known.clear();
    known.set(anonymousId, userId);
  }

  async function mergeVisitor(anonymousId: string, userId: string): Promise<void> {
    const visitor = ANONYMOUS_PREFIX + anonymousId;
    const events = await profiles.anonymousEvents(visitor);
    if (events.length) await profiles.apply(userId, events);
    for (const listener of onMerge) await listener(visitor, userId);
    if (events.length || (await profiles.get(visitor))) await profiles.remove(visitor);
  }

  /** The customer an id names (a customer, or a linked or unlinked anonymousId) with its profile, read once. */
  async function find(id: string): Promise<{ customerId: string; profile: Profile } | undefined> {
    const direct = await profiles.get(id);
    if (direct) return { customerId: id, profile: direct };
    const userId = await linkedUser(isAnonymousCustomer(id) ? id.slice(ANONYMOUS_PREFIX.length) : id);
    const candidate = userId ?? (isAnonymousCustomer(id) ? undefined : ANONYMOUS_PREFIX + id);
    const profile = candidate && (await profiles.get(candidate));
    return profile ? { customerId: candidate, profile } : undefined;
  }

  return {
    /** The customer an event belongs to. */
    async customerOf(event: Pick<CleanEvent, "userId" | "anonymousId">): Promise<string> {
      if (event.userId) return event.userId;
      const anonymousId = event.anonymousId!;
      return (await linkedUser(anonymousId)) ?? ANONYMOUS_PREFIX + anonymousId;
    },

    /**
     * Links an anonymousId (or an alias's previousId) to a userId; the first link wins.
     * Merges the visitor's history into the customer whenever the link holds. No link is made to
     * or from an erased customer: it would bring them back once the erasure's tombstone is gone.
     */
    async link(anonymousId: string, userId: string): Promise<void> {
      if (anonymousId === userId || known.get(anonymousId) === userId) return;
      if (suppression && (await suppression.erasedOf([userId, anonymousId, ANONYMOUS_PREFIX + anonymousId])).size) return;
      const key = keys.identityLink(anonymousId);
      const created = await redis.set(key, userId, "NX");
      const owner = created ? userId : await redis.get(key);
      if (owner !== userId) return;
      remember(anonymousId, userId);
      await mergeVisitor(anonymousId, userId);
    },

    /**
     * After writing to a visitor's profile: if its anonymousId was linked meanwhile (a race
     * with identify in another job), move what was just written under the customer.
     */
    async settle(customerId: string): Promise<void> {
      if (!isAnonymousCustomer(customerId)) return;
      const anonymousId = customerId.slice(ANONYMOUS_PREFIX.length);
      const userId = await linkedUser(anonymousId);
      if (userId) await mergeVisitor(anonymousId, userId);
    },

    find,

    /** The customer an id names, when it has a profile. */
    async resolveId(id: string): Promise<string | undefined> {
      return (await find(id))?.customerId;
    },
  };
}
