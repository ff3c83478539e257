import { describe, expect, test } from "bun:test";
import type { CleanEvent } from "../../pipelines/clean-event";
import { applyEvents, emptyProfile, profileLimits, type Profile } from "../../pipelines/profile";
import { allFields, changedFields, profileFromFields } from "../../src/profiles/profile-fields";

const B = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;
let seq = 0;

function ev(name: string, ts: number, extra: Partial<CleanEvent> = {}): CleanEvent {
  seq += 1;
  return { messageId: `m-${String(seq).padStart(6, "0")}`, type: "track", name, userId: "u-1", ts, receivedAt: ts, properties: {}, products: [], stage: "pre_conversion", flags: [], ...extra };
}

/** A flat [field, value, …] list as a hash. */
const asHash = (flat: string[]) => {
  const hash: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
};

/** What a Redis hash holds after HSET of `set` and HDEL of `del`. */
function patched(hash: Record<string, string>, change: { set: string[]; del: string[] }) {
  const out = { ...hash, ...asHash(change.set) };
  for (const field of change.del) delete out[field];
  return out;
}

// Views, carts, orders and support contacts over ~15 months, across more products and orders
// than the caps keep, delivered in shuffled batches.
function history(n: number): CleanEvent[] {
  const names = ["Product Viewed", "Product Added", "Order Completed", "Support Ticket Opened", "Page Viewed"];
  return Array.from({ length: n }, (_, k) => {
    const name = names[k % names.length]!;
    const product = { id: `p-${k % 2_000}`, name: `P ${k % 2_000}`, category: `c-${k % 9}`, quantity: 1 + (k % 2), price: 4 };
    return ev(name, B + ((k * 37) % 460) * DAY + k, name === "Page Viewed" || name === "Support Ticket Opened" ? {} : { products: [product], ...(name === "Order Completed" ? { revenue: 4, currency: "GBP" } : {}) });
  });
}

describe("profile fields", () => {
  test("a profile read back from its fields equals the profile, whatever its size", () => {
    const p = applyEvents(emptyProfile("c1"), history(3_000));
    expect(p.purchases.length).toBe(profileLimits.purchases);
    expect(Object.keys(p.items).length).toBe(profileLimits.items);
    expect(profileFromFields(asHash(allFields(p)))).toEqual(p);
  });

  test("writing only the changed fields leaves the same hash as writing them all, through every cap", () => {
    const events = history(3_000);
    // Late arrivals too: batches come in an order other than event time.
    const batches: CleanEvent[][] = [];
    for (let i = 0; i < events.length; i += 37) batches.push(events.slice(i, i + 37));
    batches.reverse();
    let p: Profile = emptyProfile("c1");
    let hash = asHash(allFields(p));
    for (const batch of batches) {
      const next = applyEvents(p, batch);
      hash = patched(hash, changedFields(p, next, batch));
      expect(hash).toEqual(asHash(allFields(next)));
      p = next;
    }
    expect(profileFromFields(hash)).toEqual(p);
  });

  test("a profile stored in the older single-field layout is read as it was", () => {
    const p = applyEvents(emptyProfile("c1"), history(50));
    expect(profileFromFields({ json: JSON.stringify(p), v: String(p.version) })).toEqual(p);
    expect(profileFromFields({})).toBeUndefined();
  });
});
