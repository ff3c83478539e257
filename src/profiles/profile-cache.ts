import type { Profile } from "../../pipelines/profile";

type Entry = { profile: Profile; version: string; bytes: number };

/**
 * Approximate JSON size of a profile, from how many entries its long sections hold (measuring
 * it would cost the very serialisation the cache saves).
 */
const approxBytes = (p: Profile) =>
  1_000 + 40 * p.recentEvents.length + 60 * p.stageTransitions.length + 220 * p.purchases.length + 90 * Object.keys(p.items).length + 40 * Object.keys(p.dailyActivity).length;

/**
 * Recently written profiles with the version they were stored at, least recently used dropped
 * first once their total passes `maxBytes`. Entries are frozen, so sharing one with a caller
 * cannot change what the next write starts from.
 */
export function profileCache(maxBytes: number) {
  const entries = new Map<string, Entry>();
  let total = 0;

  const remove = (id: string) => {
    const entry = entries.get(id);
    if (!entry) return;
    total -= entry.bytes;
    entries.delete(id);
  };

  return {
    get(id: string): Omit<Entry, "bytes"> | undefined {
      const entry = entries.get(id);
      if (!entry) return undefined;
      // Map order is insertion order: re-inserting marks it most recently used.
      entries.delete(id);
      entries.set(id, entry);
      return entry;
    },
    set(id: string, value: Omit<Entry, "bytes">): void {
      if (maxBytes <= 0) return;
      remove(id);
      const bytes = approxBytes(value.profile);
      if (bytes > maxBytes) return;
      entries.set(id, { ...value, bytes });
      total += bytes;
      for (const oldest of entries.keys()) {
        if (total <= maxBytes) break;
        remove(oldest);
      }
    },
    delete: remove,
    get size() {
      return entries.size;
    },
  };
}

/** Freezes a profile and everything in it not frozen already (shared parts of an earlier profile are). */
export function freeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) freeze(inner);
  }
  return value;
}
