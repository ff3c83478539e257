import { ANONYMOUS_PREFIX } from "./profile-store";

/** The customer a stored event belongs to before stitching: its userId, else its visitor id. */
export const ownerOfStored = (e: { userId?: unknown; anonymousId?: unknown }): string | undefined =>
  e.userId ? String(e.userId) : e.anonymousId ? ANONYMOUS_PREFIX + String(e.anonymousId) : undefined;

/** The partition key (userId or anonymousId) of a customer id's own events. */
export const partitionKeyOf = (customerId: string) => (customerId.startsWith(ANONYMOUS_PREFIX) ? customerId.slice(ANONYMOUS_PREFIX.length) : customerId);

export type ErasedMatcher = ReturnType<typeof erasedMatcher>;

/** Recognises what belongs to erased customers (userIds and `anon:` visitor ids). */
export function erasedMatcher(customerIds: Iterable<string>) {
  const ids = new Set(customerIds);
  // How the ids appear inside stored JSON; a cheap test before parsing anything.
  const needles = [...ids].map((id) => JSON.stringify(partitionKeyOf(id)));
  const mentions = (text: string) => needles.some((n) => text.includes(n));
  return {
    ids,
    has: (customerId: string) => ids.has(customerId),
    mentions,
    /** A stored event (JSON) of theirs; one that does not parse is theirs when it names them. */
    ownsStored(json: string): boolean {
      if (!mentions(json)) return false;
      try {
        const owner = ownerOfStored(JSON.parse(json) as { userId?: unknown; anonymousId?: unknown });
        return owner !== undefined && ids.has(owner);
      } catch {
        return true;
      }
    },
  };
}
