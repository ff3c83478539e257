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
  };
}

/**
 * Freezes a profile and the lists and maps in it, so a caller that tried to change a shared
 * profile would fail loudly instead of changing what the next write starts from. The entries
 * inside are left as they are: freezing thousands of them per write cost more than the write.
 */
export function freeze(profile: Profile): Profile {
  if (Object.isFrozen(profile)) return profile;
  for (const part of Object.values(profile)) if (part && typeof part === "object") Object.freeze(part);
  return Object.freeze(profile);
}
