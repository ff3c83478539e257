import { describe, expect, it } from "bun:test";
import {
  buildRecommender,
  buyAgain,
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
    expect(next!.reason).toBe("bought next by 12 customers who bought ITEM kettle");
  });

  it("should name the co-bought item in an item-to-item reason", () => {
    const itemsOnly = buildRecommender(shop(), { weights: { users: 0, items: 1, after: 0, popular: 0, revisit: 0 } });
    const [top] = recommend(itemsOnly, customer("me", [buy("seeds", 30)]), 1);
    expect(top!.itemId).toBe("pot");
    expect(top!.reason).toBe("bought with ITEM seeds by 20 customers");
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
    expect(recs[0]!.reason).toBe("popular: bought by 20 customers");
  });

  it("should not count a fitted customer as their own neighbour, and recommend nothing without evidence", () => {
    const lonely = buildRecommender([customer("solo", [buy("a", 0), buy("b", 1)]), customer("other", [buy("c", 0)])]);
    // Only "other" bought c, once: no neighbour, no co-purchase, and one buyer is not "popular".
    expect(recommend(lonely, customer("solo", [buy("a", 0), buy("b", 1)]), 5)).toEqual([]);
  });

  it("should return fewer items rather than pad with items nobody bought", () => {
    const sparse = buildRecommender([
      customer("x1", [buy("p", 0), buy("q", 1)]),
      customer("x2", [buy("p", 2), buy("q", 3)]),
      customer("x3", [{ ts: T0, itemId: "only-viewed", kind: "view" }]),
    ]);
    const recs = recommend(sparse, customer("new", []), 10);
    expect(recs.map((r) => r.itemId).sort()).toEqual(["p", "q"]);
    for (const r of recs) expect(r.support).toBeGreaterThanOrEqual(2);
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

});

describe("live counts", () => {
  const evidence = {
    popular: [
      { itemId: "mug", buyers: 14, name: "Mug" },
      { itemId: "kettle", buyers: 9, name: "Kettle" },
      { itemId: "rare", buyers: 1 },
    ],
    together: [
      {
        itemId: "kettle",
        name: "Kettle",
        buyers: 9,
        with: [
          { itemId: "mug", name: "Mug", customers: 6, buyers: 14 },
          { itemId: "tea", name: "Tea", customers: 3, buyers: 4 },
        ],
      },
    ],
  };

  it("should recommend from co-purchases before any model is fitted, naming the evidence with its count", () => {
    const recs = recommend(undefined, customer("me", [buy("kettle", 1)]), 10, evidence);
    expect(recs.map((r) => r.itemId)).toEqual(["mug", "tea"]);
    expect(recs[0]).toMatchObject({ source: "live", reason: "bought with Kettle by 6 customers", support: 6 });
    expect(recs.map((r) => r.itemId)).not.toContain("kettle");
    expect(recs.map((r) => r.itemId)).not.toContain("rare");
  });

  it("should offer live popularity to a customer with no purchases yet, only items bought by two or more", () => {
    const recs = recommend(undefined, customer("new", []), 10, { ...evidence, together: [] });
    expect(recs.map((r) => [r.itemId, r.reason])).toEqual([
      ["mug", "popular: bought by 14 customers"],
      ["kettle", "popular: bought by 9 customers"],
    ]);
  });

  it("should let items bought since the refit reach a fitted model's customers", () => {
    const model = buildRecommender(shop());
    const me = customer("me", [buy("brand-new", 40)]);
    const live = { popular: [], together: [{ itemId: "brand-new", buyers: 3, with: [{ itemId: "mug", name: "ITEM mug", customers: 2, buyers: 14 }] }] };
    const recs = recommend(model, me, 3, live);
    expect(recs[0]).toMatchObject({ itemId: "mug" });
  });
});

describe("re-bought catalogues", () => {
  const grocery = Array.from({ length: 30 }, (_, c) =>
    customer(`g${c}`, Array.from({ length: 8 }, (_, w) => [buy("milk", w * 7), buy("bread", w * 7), buy(`treat-${(c + w) % 5}`, w * 7)]).flat()),
  );
  const gifts = Array.from({ length: 30 }, (_, c) => customer(`w${c}`, Array.from({ length: 8 }, (_, w) => buy(`gift-${c * 8 + w}`, w * 20))));

  it("should tell a catalogue customers buy again from one they do not", () => {
    expect(buildRecommender(grocery).rebuy.isRebought).toBe(true);
    expect(buildRecommender(gifts).rebuy.isRebought).toBe(false);
  });

  it("should offer the customer's own items that are due again, with their rhythm, and nothing for a gift shop", () => {
    const me = customer("me", [buy("milk", 0), buy("milk", 7), buy("milk", 14), buy("bread", 14)]);
    const due = buyAgain(buildRecommender(grocery).rebuy, me, 5, T0 + 22 * DAY_MS);
    expect(due[0]).toMatchObject({ itemId: "milk", source: "rebuy", support: 3 });
    expect(due[0]!.reason).toBe("bought 3 times, usually every 7 days; last bought 8 days ago");
    expect(buyAgain(buildRecommender(gifts).rebuy, me, 5, T0 + 22 * DAY_MS)).toEqual([]);
  });
});
