import { describe, expect, it } from "bun:test";
import {
  buildRecommender,
  DAY_MS,
  deserialiseRecommender,
  recommend,
  serialiseRecommender,
  type RecEvent,
  type RecHistory,
} from "../../pipelines/recommend.ts";

const T0 = Date.parse("2024-01-01T00:00:00Z");
const buy = (itemId: string, day: number, extra: Partial<RecEvent> = {}): RecEvent => ({
  ts: T0 + day * DAY_MS,
  itemId,
  kind: "purchase",
  name: `ITEM ${itemId}`,
  ...extra,
});
const customer = (customerId: string, events: RecEvent[]): RecHistory => ({ customerId, events });

/** Tea drinkers buy kettle → teapot → mugs; a garden group buys seeds and pots. */
function shop(): RecHistory[] {
  const histories: RecHistory[] = [];
  for (let c = 0; c < 12; c++)
    histories.push(
      customer(`tea-${c}`, [
        buy("kettle", c, { category: "kitchen" }),
        buy("teapot", c + 3, { category: "kitchen" }),
        ...(c < 9 ? [buy("mug", c + 6, { category: "kitchen" })] : []),
      ]),
    );
  for (let c = 0; c < 20; c++)
    histories.push(
      customer(`garden-${c}`, [
        buy("seeds", c, { category: "garden" }),
        buy("pot", c + 1, { category: "garden" }),
        ...(c < 15 ? [buy("hose", c + 2, { category: "garden" })] : []),
      ]),
    );
  return histories;
}

describe("recommend", () => {
  const model = buildRecommender(shop());

  it("should never recommend an item the customer already bought", () => {
    const me = customer("me", [buy("kettle", 30), buy("teapot", 31)]);
    const ids = recommend(model, me, 10).map((r) => r.itemId);
    expect(ids).not.toContain("kettle");
    expect(ids).not.toContain("teapot");
    expect(ids[0]).toBe("mug");
  });

  it("should still recommend an item the customer only viewed", () => {
    const me = customer("me", [buy("kettle", 30), { ts: T0 + 31 * DAY_MS, itemId: "mug", kind: "view" }]);
    expect(recommend(model, me, 10).map((r) => r.itemId)).toContain("mug");
  });

  it("should give each recommendation a reason carrying the count it states", () => {
    const me = customer("me", [buy("kettle", 30), buy("teapot", 31)]);
    const recs = recommend(model, me, 5);
    expect(recs.length).toBeGreaterThan(0);
    for (const r of recs) {
      expect(r.reason.length).toBeGreaterThan(0);
      expect(r.support).toBeGreaterThan(0);
      expect(r.reason).toContain(String(r.support));
    }
    expect(recs.find((r) => r.itemId === "mug")!.name).toBe("ITEM mug");
  });

  it("should say how many similar customers bought a neighbour-based recommendation", () => {
    const usersOnly = buildRecommender(shop(), { weights: { users: 1, items: 0, after: 0, popular: 0, revisit: 0 } });
    const [mug] = recommend(usersOnly, customer("me", [buy("kettle", 30), buy("teapot", 31)]), 1);
    expect(mug).toMatchObject({ itemId: "mug", source: "users", reason: "bought by 9 customers like you", support: 9 });
  });

  it("should name the earlier purchase in a bought-after reason", () => {
    const afterOnly = buildRecommender(shop(), { weights: { users: 0, items: 0, after: 1, popular: 0, revisit: 0 } });
    const [next] = recommend(afterOnly, customer("me", [buy("kettle", 30)]), 1);
    expect(next).toMatchObject({ itemId: "teapot", source: "after", support: 12 });
    expect(next!.reason).toBe("customers who bought ITEM kettle bought this next (12)");
  });

  it("should name the co-bought item in an item-to-item reason", () => {
    const itemsOnly = buildRecommender(shop(), { weights: { users: 0, items: 1, after: 0, popular: 0, revisit: 0 } });
    const [top] = recommend(itemsOnly, customer("me", [buy("seeds", 30)]), 1);
    expect(top!.itemId).toBe("pot");
    expect(top!.reason).toBe("often bought with ITEM seeds (20 customers)");
  });

  it("should fall back to the most popular items of the customer's categories for a new customer", () => {
    const newcomer = customer("new", [{ ts: T0, itemId: "never-seen", category: "kitchen", kind: "view" }]);
    const recs = recommend(model, newcomer, 3);
    // Same buyer counts for kettle and teapot; teapot's buyers are more recent.
    expect(recs.map((r) => r.itemId)).toEqual(["teapot", "kettle", "mug"]);
    expect(recs[0]!.reason).toBe("popular in kitchen: bought by 12 customers");
    expect(recs[0]!.support).toBe(12);
  });

  it("should fall back to overall popularity for a customer with no history", () => {
    const recs = recommend(model, customer("empty", []), 2);
    // Both have 20 buyers; recent buyers count more, and pot was bought a day later.
    expect(recs.map((r) => r.itemId)).toEqual(["pot", "seeds"]);
    expect(recs[0]!.reason).toBe("popular right now: bought by 20 customers");
  });

  it("should not count a fitted customer as their own neighbour", () => {
    const lonely = buildRecommender([customer("solo", [buy("a", 0), buy("b", 1)]), customer("other", [buy("c", 0)])]);
    const recs = recommend(lonely, customer("solo", [buy("a", 0), buy("b", 1)]), 5);
    expect(recs.every((r) => r.source === "popular")).toBe(true);
  });

  it("should return the same list for the same input, and after a serialise round trip", () => {
    const me = customer("me", [buy("seeds", 30), buy("kettle", 31)]);
    const first = recommend(model, me, 10);
    expect(recommend(model, me, 10)).toEqual(first);
    expect(recommend(buildRecommender(shop()), me, 10)).toEqual(first);
    const loaded = deserialiseRecommender(serialiseRecommender(model));
    expect(recommend(loaded, me, 10)).toEqual(first);
  });

  it("should keep 'no decay' (Infinity) options through a serialise round trip", () => {
    const undecayed = buildRecommender(shop(), { profileHalfLifeDays: Infinity, voteHalfLifeDays: Infinity });
    const loaded = deserialiseRecommender(serialiseRecommender(undecayed));
    expect(loaded.options.profileHalfLifeDays).toBe(Infinity);
    expect(loaded.options.voteHalfLifeDays).toBe(Infinity);
  });

  it("should score one customer in a 4,000-item catalogue in well under 10 ms", () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const histories = Array.from({ length: 3000 }, (_, c) =>
      customer(`c${c}`, Array.from({ length: 40 }, (_, e) => buy(`i${Math.floor(rand() ** 2 * 4000)}`, e))),
    );
    const big = buildRecommender(histories);
    const started = performance.now();
    for (let c = 0; c < 200; c++) recommend(big, histories[c]!, 10);
    expect((performance.now() - started) / 200).toBeLessThan(10);
  }, 60_000);
});
